// Encoder primitives (value counts, entry symbols, column listings), registered on the module.
#pragma once
#include <pybind11/pybind11.h>

void register_encoders(pybind11::module_& m);
