"""hamsham.memory: the machine's memory, a cgroup's limit, what is free now."""
from hamsham import memory


def test_limit_is_the_lower_of_machine_and_cgroup(tmp_path):
    cgroup = tmp_path / "memory.max"
    physical = memory.physical_bytes()
    assert physical > 0
    cgroup.write_text("max\n")
    assert memory.limit_bytes(cgroup) == physical
    cgroup.write_text(f"{1 << 30}\n")
    assert memory.limit_bytes(cgroup) == min(physical, 1 << 30)
    cgroup.write_text(f"{2 * physical}\n")
    assert memory.limit_bytes(cgroup) == physical
    assert memory.limit_bytes(tmp_path / "absent") == physical  # no cgroup v2 file: the machine's
    cgroup.write_text("garbage\n")
    assert memory.limit_bytes(cgroup) == physical


def test_available_stays_within_the_limit(tmp_path):
    cgroup = tmp_path / "memory.max"
    cgroup.write_text("max\n")
    assert 0 < memory.available_bytes(cgroup) <= memory.physical_bytes()
    cgroup.write_text(f"{64 << 20}\n")
    assert memory.available_bytes(cgroup) == 64 << 20
