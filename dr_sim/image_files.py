"""Image files on disk: which suffixes count as images, and the images of a folder tree."""

from __future__ import annotations

from pathlib import Path

#: What OpenCV reads as images here (``cv2.imread``).
IMAGE_SUFFIXES = (".bmp", ".jpeg", ".jpg", ".png", ".tif", ".tiff", ".webp")


def list_images(folder: Path) -> list[Path]:
    """The image files in ``folder`` and its subfolders (by suffix), in sorted path order; hidden files
    and folders (a leading dot, such as macOS's ``._`` copies) are skipped."""
    found = []
    for path in sorted(folder.rglob("*")):
        hidden = any(part.startswith(".") for part in path.relative_to(folder).parts)
        if not hidden and path.suffix.lower() in IMAGE_SUFFIXES and path.is_file():
            found.append(path)
    return found
