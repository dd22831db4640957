"""LibreOffice headless driven by the tests to make files the way offices make them (legacy formats, PDFs,
documents locked with a password): real files, not hand-built imitations."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

# A Basic macro that saves a document with an opening password: LibreOffice's command line cannot set one,
# but it runs a macro named by a macro:/// URL, and a Basic library lives in the private profile.
_SAVE_WITH_PASSWORD = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE script:module PUBLIC "-//OpenOffice.org//DTD OfficeDocument 1.0//EN" "module.dtd">
<script:module xmlns:script="http://openoffice.org/2000/script" script:name="Module1" script:language="StarBasic">
Sub SaveWithPassword(source As String, target As String, filter As String, password As String)
  Dim load(0) As New com.sun.star.beans.PropertyValue
  load(0).Name = &quot;Hidden&quot; : load(0).Value = True
  document = StarDesktop.loadComponentFromURL(source, &quot;_blank&quot;, 0, load())
  Dim store(1) As New com.sun.star.beans.PropertyValue
  store(0).Name = &quot;FilterName&quot; : store(0).Value = filter
  store(1).Name = &quot;Password&quot; : store(1).Value = password
  document.storeToURL(target, store())
  document.close(True)
  StarDesktop.terminate()
End Sub
</script:module>
"""


class LibreOffice:
    """The real LibreOffice headless with a private profile, making files the way offices make them."""

    def __init__(self, folder: Path) -> None:
        if shutil.which("soffice") is None:
            pytest.fail("LibreOffice is required: make test installs libreoffice-*-nogui")
        self.folder = folder
        self.profile = folder / "lo-profile"

    def _run(self, *arguments: str) -> None:
        """soffice with ``arguments``; on a hang its whole process group is killed (oosplash ignores SIGTERM)."""
        command = ["soffice", f"-env:UserInstallation={self.profile.as_uri()}", "--headless", "--norestore", *arguments]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            output, _ = process.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            pytest.fail(f"LibreOffice hung: {' '.join(arguments)}")
        assert process.returncode == 0, output

    def convert(self, source: Path, target: str) -> Path:
        """``source`` converted to ``target`` (doc, xls, pdf …), as ``soffice --convert-to`` saves it."""
        out = self.folder / "converted"
        self._run("--convert-to", target, "--outdir", str(out), str(source))
        return out / f"{source.stem}.{target.split(':')[0]}"

    def save_with_password(self, source: Path, target: Path, filter_name: str, password: str) -> Path:
        """``source`` saved as ``target`` in ``filter_name`` (e.g. "MS Word 97") with an opening password."""
        module = self.profile / "user" / "basic" / "Standard" / "Module1.xba"
        if not module.is_file():
            self._run("--terminate_after_init")  # creates the profile and its Standard library
        module.write_text(_SAVE_WITH_PASSWORD, encoding="utf-8")
        self._run(f'macro:///Standard.Module1.SaveWithPassword("{source.as_uri()}","{target.as_uri()}",'
                  f'"{filter_name}","{password}")')
        assert target.is_file(), f"LibreOffice did not write {target}"
        return target
