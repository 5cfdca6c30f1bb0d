"""Discovery: image allow-list, junk ignored, links and special files never followed or opened."""

from __future__ import annotations

import os
import socket

import pytest

from batchdigits.files.discover import display_path, find_images, natural_key
from batchdigits.errors import InputFolderError
from batchdigits.recognition.runner import process_file
from drawing import digit_image


def names(found):
    return [item.path for item in found]


def test_allow_list_and_junk(tmp_path):
    image = digit_image(1, size=40, width=3)
    for name in ("a.png", "b.JPG", "c.jpeg", "d.webp", "e.tif", "f.bmp", "g.gif"):
        image.save(tmp_path / name, format={"jpg": "JPEG", "jpeg": "JPEG", "tif": "TIFF"}.get(name.split(".")[-1].lower(), name.split(".")[-1].upper()))
    for junk in (".DS_Store", "Thumbs.db", "desktop.ini", "._a.png", "upload.png.part", ".hidden.png", "notes.txt"):
        (tmp_path / junk).write_bytes(b"junk")
    (tmp_path / "@eaDir").mkdir()
    image.save(tmp_path / "@eaDir" / "thumb.png")
    (tmp_path / ".git").mkdir()
    image.save(tmp_path / ".git" / "x.png")
    assert names(find_images(tmp_path)) == ["a.png", "b.JPG", "c.jpeg", "d.webp", "e.tif", "f.bmp", "g.gif"]


def test_symlinks_are_not_followed(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    digit_image(2, size=40).save(outside / "secret.png")
    folder = tmp_path / "in"
    folder.mkdir()
    digit_image(3, size=40).save(folder / "real.png")
    os.symlink(outside / "secret.png", folder / "link.png")
    os.symlink(outside, folder / "linked-dir")
    os.symlink(folder, folder / "loop")
    assert names(find_images(folder)) == ["real.png"]


def test_fifos_and_sockets_are_never_opened(tmp_path):
    os.mkfifo(tmp_path / "pipe.png")
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(tmp_path / "sock.png"))
    try:
        assert names(find_images(tmp_path)) == []
        # Even if one appears after listing, reading it must not block.
        outcome = process_file(tmp_path / "pipe.png")
        assert outcome.outcome == "failed" and "not a regular file" in outcome.reason
    finally:
        server.close()


def test_output_folder_inside_is_not_scanned(tmp_path):
    digit_image(4, size=40).save(tmp_path / "a.png")
    (tmp_path / "report").mkdir()
    digit_image(4, size=40).save(tmp_path / "report" / "thumb.png")
    assert names(find_images(tmp_path, exclude=tmp_path / "report")) == ["a.png"]


def test_vanished_file_is_retried_not_failed(tmp_path):
    outcome = process_file(tmp_path / "gone.png")
    assert outcome.outcome == "retry"


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file_is_retried(tmp_path):
    path = tmp_path / "locked.png"
    digit_image(5, size=40).save(path)
    path.chmod(0)
    try:
        assert process_file(path).outcome == "retry"
    finally:
        path.chmod(0o644)


def test_missing_or_non_folder_input(tmp_path):
    with pytest.raises(InputFolderError, match="not found"):
        find_images(tmp_path / "missing")
    (tmp_path / "file.png").write_bytes(b"x")
    with pytest.raises(InputFolderError, match="not a folder"):
        find_images(tmp_path / "file.png")


def test_natural_sort_and_display_of_odd_names():
    assert sorted(["scan_10", "scan_2", "Scan_1"], key=natural_key) == ["Scan_1", "scan_2", "scan_10"]
    undecodable = os.fsdecode(b"caf\xe9.png")
    assert display_path(undecodable) == "caf\\xe9.png"
