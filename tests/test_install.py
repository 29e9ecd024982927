"""tools/install.py shares pip's plan between two pip processes: every package exactly once."""

import importlib.util

from autograder.config import REPO

spec = importlib.util.spec_from_file_location("install", REPO / "tools" / "install.py")
install = importlib.util.module_from_spec(spec)
spec.loader.exec_module(install)


def item(name):
    return {"metadata": {"name": name}, "download_info": {"url": f"https://example/{name}.whl"}}


def test_every_package_is_in_exactly_one_share_and_the_largest_in_the_first():
    names = ["torch", *(f"package{k:02d}" for k in range(20))]
    first, second = install.shares([item(name) for name in names])
    assert first[0] == "torch @ https://example/torch.whl"
    assert sorted(first + second) == sorted(f"{n} @ https://example/{n}.whl" for n in names)
    assert 2 < len(first) < len(second)


def test_a_plan_without_the_largest_package_is_still_shared():
    first, second = install.shares([item("numpy"), item("pip"), item("six")])
    assert sorted(first + second) == [
        f"{n} @ https://example/{n}.whl" for n in ("numpy", "pip", "six")
    ]
