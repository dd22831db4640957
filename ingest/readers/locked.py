"""Password-protected office files, recognised before any parser or LibreOffice is handed them.

Without this, a locked file read as a broken one: LibreOffice headless has no one to ask for the password
and answers "source file could not be loaded" (a file it cannot even open may also keep it busy until the
timeout), and python-docx or openpyxl see an encrypted .docx/.xlsx, which is an OLE container rather than
a zip, as damaged.  The user was told 损坏 about a good file that only needs its password removed.

Each format marks its encryption where it is cheap to read:

- Word 97–2003 (.doc, WPS .wps): ``fEncrypted`` in the ``WordDocument`` stream's file information block;
- Excel 97–2003 (.xls, .et): a FILEPASS record in the workbook globals, before the first EOF;
- PowerPoint 97–2003 (.ppt, .dps): the ``Current User`` atom's header token 0xE391C05F;
- Office 2007+ (.docx .xlsx .pptx) with a password: an OLE container holding ``EncryptionInfo`` and
  ``EncryptedPackage`` instead of a zip;
- OpenDocument (.odt .ods .odp): ``encryption-data`` in ``META-INF/manifest.xml``.
"""

from __future__ import annotations

import io
import struct
import zipfile

import olefile

from ingest.readers.base import UnreadableFile

LOCKABLE_SUFFIXES = frozenset((".doc", ".wps", ".docx", ".xls", ".et", ".xlsx", ".ppt", ".dps", ".pptx",
                               ".odt", ".ods", ".odp"))
_WORD_ENCRYPTED = 0x0100  # fEncrypted in FibBase's flags (MS-DOC 2.5.2)
_FILEPASS, _EOF = 0x002F, 0x000A  # BIFF8 record types (MS-XLS 2.4.117, 2.4.103)
_PPT_ENCRYPTED_TOKEN = 0xE391C05F  # CurrentUserAtom.headerToken of an encrypted deck (MS-PPT 2.3.2)
_BIFF_SCAN_BYTES = 1 << 20  # the globals substream's FILEPASS comes right after its BOF; never scan a whole book


def refuse_locked(data: bytes, suffix: str) -> None:
    """Raise ``UnreadableFile`` with what to do if ``data`` is a password-protected office file."""
    if suffix.lower() in LOCKABLE_SUFFIXES and is_locked(data):
        raise UnreadableFile(f"此 {suffix} 文件设有打开密码（已加密），无法读取；请取消密码后另存，再重新导入")


def is_locked(data: bytes) -> bool:
    """True if the file carries one of the encryption marks above; a damaged file is not called locked."""
    try:
        if data.startswith(olefile.MAGIC):
            return _ole_locked(data)
        if data.startswith(b"PK"):
            return _odf_locked(data)
    except Exception:  # a file too damaged to tell: its reader reports the damage
        return False
    return False


def _ole_locked(data: bytes) -> bool:
    with olefile.OleFileIO(io.BytesIO(data)) as ole:
        if ole.exists("EncryptionInfo") and ole.exists("EncryptedPackage"):
            return True
        if ole.exists("WordDocument"):
            flags = struct.unpack_from("<H", ole.openstream("WordDocument").read(12), 10)[0]
            return bool(flags & _WORD_ENCRYPTED)
        for name in ("Workbook", "Book"):
            if ole.exists(name):
                return _biff_has_filepass(ole.openstream(name).read(_BIFF_SCAN_BYTES))
        if ole.exists("Current User"):
            token = struct.unpack_from("<I", ole.openstream("Current User").read(16), 12)[0]
            return token == _PPT_ENCRYPTED_TOKEN
    return False


def _biff_has_filepass(stream: bytes) -> bool:
    """Walk the BIFF records of the workbook globals (type, length, body) up to their EOF."""
    offset = 0
    while offset + 4 <= len(stream):
        kind, length = struct.unpack_from("<HH", stream, offset)
        if kind == _FILEPASS:
            return True
        if kind == _EOF:
            return False
        offset += 4 + length
    return False


def _odf_locked(data: bytes) -> bool:
    with zipfile.ZipFile(io.BytesIO(data)) as package:
        if "META-INF/manifest.xml" not in package.namelist():
            return False
        with package.open("META-INF/manifest.xml") as manifest:
            return b"encryption-data" in manifest.read(1 << 20)
