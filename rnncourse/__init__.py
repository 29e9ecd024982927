"""Helpers shared by the chapters and exercises of the RNN course.

One place for everything the notebooks share: choosing a device, seeding,
plot style, a small training loop and the checks used by exercise tests.
"""

from rnncourse.devices import available_devices, pick_device
from rnncourse.seeding import seed_everything, use_book_threads

__all__ = ["available_devices", "pick_device", "seed_everything", "use_book_threads"]
