"""The library's error for bad input: it names the file (or URL) and the problem."""


class InputError(ValueError):
    """Bad input; `str()` is `"<path>: <problem>"`."""

    def __init__(self, path, problem):
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}")

    def __reduce__(self):
        # Rebuild from (path, problem), so the error survives pickling (multiprocessing).
        return type(self), (self.path, self.problem)
