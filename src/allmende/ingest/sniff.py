"""Finds out how a text table file is written: encoding, delimiter, title rows before the
header, multi-row headers, footers after the data. Every finding is reported and can be
overridden by the person uploading (``ReadOptions``)."""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from allmende.errors import Invalid, msg
from allmende.tables.schema import RESERVED_COLUMNS

SAMPLE_BYTES = 1 << 20
TAIL_BYTES = 64 << 10
DELIMITERS = (";", ",", "\t", "|")
MAX_LABEL = 200
# Cells that look like data rather than labels: numbers (German or English) and dates.
DATA_CELL = re.compile(
    r"^[+-]?(\d{1,3}(\.\d{3})+|\d+)(,\d+)?$|^[+-]?\d+\.\d+$|^\d{1,2}\.\d{1,2}\.\d{2,4}$"
    r"|^\d{4}-\d{2}-\d{2}|^-$")
# UTF-32 first: its little-endian BOM begins with UTF-16's.
BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF32_LE, "utf-32"),
        (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"))
# Without a BOM, UTF-16 and UTF-32 text shows by its NUL bytes; UTF-32 first, since UTF-32
# text read as UTF-16 keeps NULs, while UTF-16 text read as UTF-32 does not decode.
WIDE_ENCODINGS = ("utf-32-le", "utf-32-be", "utf-16-le", "utf-16-be")


@dataclass
class ReadOptions:
    """What a person may set instead of the sniffed value."""

    encoding: str | None = None
    delimiter: str | None = None
    header_row: int | None = None  # 1-based record number of the (last) header row
    sheet: str | None = None
    crs: str | None = None
    # Excel merged cells: fill the blank leading cells of continuation rows from the row above.
    fill_down: bool | None = None  # None: when the layout shows it

    def as_dict(self) -> dict[str, object]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass
class Warning_:
    code: str
    message: str  # a Message where it has parameters (stored with its template)


@dataclass
class TextLayout:
    """How a delimited text file is laid out."""

    encoding: str
    delimiter: str
    title_rows: int  # records before the header
    header_rows: int
    header_lines: int  # physical lines up to the end of the header (quoted line breaks count)
    footer_rows: int
    labels: list[str]
    warnings: list[Warning_] = field(default_factory=list)

    def report(self) -> dict[str, object]:
        return {"encoding": self.encoding, "delimiter": self.delimiter,
                "title_rows": self.title_rows, "header_rows": self.header_rows,
                "footer_rows": self.footer_rows}


def detect_encoding(sample: bytes, warnings: list[Warning_]) -> str | None:
    """The encoding of a text file's first bytes; None when they are no text."""
    for bom, name in BOMS:
        if sample.startswith(bom):
            return name
    if b"\x00" in sample:
        return _wide_encoding(sample)
    try:
        text = sample.decode("utf-8")
    except UnicodeDecodeError as error:
        # a multi-byte character cut at the sample's end is no reason to doubt UTF-8
        if error.start < len(sample) - 4:
            from charset_normalizer import from_bytes  # only for files that are not UTF-8

            best = from_bytes(sample, cp_isolation=["cp1252", "latin_1", "utf_16"]).best()
            name = best.encoding if best else "cp1252"
            return "cp1252" if name in ("latin_1", "iso8859_1") else name
        text = sample[:error.start].decode("utf-8")
    _check_damage(text, warnings)
    return "utf-8"


def _wide_encoding(sample: bytes) -> str | None:
    """UTF-32 or UTF-16 without BOM, when the sample reads as such: no NUL characters, nearly
    all printable, and mostly Latin letters, digits and signs, as tables here are (binary data,
    or UTF-8 with a stray NUL, read as UTF-16 breaks on surrogates or becomes CJK)."""
    for encoding in WIDE_ENCODINGS:
        try:
            text = codecs.getincrementaldecoder(encoding)(errors="strict").decode(sample)
        except UnicodeDecodeError:
            continue
        head = text[:1 << 16]
        if not head or "\x00" in text:
            continue
        readable = sum(c.isprintable() or c in "\t\r\n" for c in head)
        latin = sum(c < "\u0250" for c in head)
        if readable >= 0.98 * len(head) and latin >= 0.5 * len(head):
            return encoding
    return None


def code_unit(encoding: str) -> int:
    """Bytes per code unit: 4 for UTF-32, 2 for UTF-16, else 1."""
    try:
        name = codecs.lookup(encoding).name
    except LookupError:
        return 1
    return 4 if name.startswith("utf-32") else 2 if name.startswith("utf-16") else 1


def _tail_encoding(encoding: str, sample: bytes) -> str:
    """The encoding of bytes from the file's middle: UTF-16 and UTF-32 with a BOM in the byte
    order the BOM named (a decoder of "utf-16" that sees no BOM assumes the machine's)."""
    for bom, name in BOMS:
        if name == encoding and encoding in ("utf-16", "utf-32") and sample.startswith(bom):
            return f"{encoding}-{'le' if bom[0] == 0xFF else 'be'}"
    return encoding


def _check_damage(text: str, warnings: list[Warning_]) -> None:
    """Umlauts destroyed before the file reached us cannot be repaired; say so."""
    replaced = text.count("\ufffd")
    if replaced:
        warnings.append(Warning_("damaged_text", (
            f"Die Datei enthält {replaced} unlesbare Zeichen (�): Umlaute wurden vermutlich "
            "schon beim Export zerstört. Bitte prüfen Sie die Quelle.")))
    elif re.search(r"[a-zA-Z]\?[a-z]", text):
        warnings.append(Warning_("damaged_text", (
            "Die Datei enthält Fragezeichen mitten in Wörtern (z. B. „Stra?e“): Umlaute wurden "
            "vermutlich schon beim Export zerstört. Bitte prüfen Sie die Quelle.")))


def _records(text: str, delimiter: str) -> list[list[str]]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        return list(reader)
    except csv.Error:
        return []


def detect_delimiter(text: str) -> str:
    """The delimiter that splits the most lines into the same, largest number of fields."""
    lines = [line for line in text.splitlines()[:200] if line.strip()]
    best, best_score = ",", -1.0
    for delimiter in DELIMITERS:
        counts = Counter(len(r) for r in _records("\n".join(lines), delimiter))
        if not counts:
            continue
        width, frequency = counts.most_common(1)[0]
        score = frequency * (width > 1) + width / 1000
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _filled(record: list[str]) -> int:
    return sum(1 for cell in record if cell.strip())


def _is_data(record: list[str]) -> bool:
    cells = [c.strip() for c in record if c.strip()]
    return bool(cells) and sum(bool(DATA_CELL.match(c)) for c in cells) * 2 >= len(cells)


CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _label_text(text: str) -> str:
    """A cell as a label: control characters (NUL included) and runs of white space become one
    space, trimmed."""
    return " ".join(CONTROL.sub(" ", text).split())


def labels_from(header: list[list[str]], width: int, banners: int = 0
                ) -> tuple[list[str], list[Warning_]]:
    """Column labels as a person reads them: multi-row headers joined with a space (the most
    specific last; the labels of the first ``banners`` rows carried over the columns up to the
    next label), then as :func:`unique_labels`."""
    header = [_spread(row, width) for row in header[:banners]] + header[banners:]
    joined = []
    for index in range(width):
        parts: list[str] = []
        for row in header:
            cell = _label_text(row[index]) if index < len(row) else ""
            if cell and not (parts and parts[-1] == cell):
                parts.append(cell)
        joined.append(" ".join(parts))
    return unique_labels(joined)


def unique_labels(names: list[str]) -> tuple[list[str], list[Warning_]]:
    """Labels of the given names (header cells, JSON keys, properties): trimmed, without
    control characters; a blank one becomes ``Spalte N``, one longer than :data:`MAX_LABEL`
    is cut, and a repeated one (compared case-blind, as DuckDB does) is numbered ``(2)``."""
    warnings: list[Warning_] = []
    labels = []
    for index, name in enumerate(names):
        label = _label_text(name) or f"Spalte {index + 1}"
        if len(label) > MAX_LABEL:
            warnings.append(Warning_("long_label", f"Spaltenname in Spalte {index + 1} auf "
                                                   f"{MAX_LABEL} Zeichen gekürzt."))
            label = label[:MAX_LABEL].rstrip()
        labels.append(label)
    # case-insensitive, as query engines compare column names; a number already taken by a
    # label of the source ("Wert (2)") is skipped; the platform's own names count as taken
    taken = {label.casefold() for label in labels} | RESERVED_COLUMNS
    seen: Counter[str] = Counter(RESERVED_COLUMNS)
    unique = []
    for label in labels:
        seen[label.casefold()] += 1
        if seen[label.casefold()] == 1:
            unique.append(label)
            continue
        number = seen[label.casefold()]
        while f"{label} ({number})".casefold() in taken:
            number += 1
        taken.add(f"{label} ({number})".casefold())
        unique.append(f"{label} ({number})")
    if len({label.casefold() for label in labels}) < len(labels):
        warnings.append(Warning_("duplicate_label", "Doppelte Spaltennamen wurden nummeriert."))
    for label, name in zip(labels, unique, strict=True):
        if label.casefold() in RESERVED_COLUMNS:
            warnings.append(Warning_("reserved_label", msg(
                "Die Spalte „{label}“ heißt „{name}“: den Namen „{label}“ braucht allmende "
                "selbst.", label=label, name=name)))
    return unique, warnings


def sniff_text(path: Path, options: ReadOptions, name: str | None = None) -> TextLayout:
    """``name`` is the file's name as the user knows it (uploads are stored under another)."""
    name = name or path.name
    size = path.stat().st_size
    if size == 0:
        raise Invalid(msg("Die Datei {name} ist leer.", name=name), code="empty_file")
    with path.open("rb") as handle:
        sample = handle.read(SAMPLE_BYTES)
    warnings: list[Warning_] = []
    encoding = options.encoding or detect_encoding(sample, warnings)
    if encoding is None or (b"\x00" in sample and code_unit(encoding) == 1):
        raise Invalid(msg("Die Datei {name} ist keine Textdatei (sie enthält Binärdaten).",
                          name=name), code="binary_file")
    with path.open("rb") as handle:  # from a code unit's start
        handle.seek(max(0, size - TAIL_BYTES) // code_unit(encoding) * code_unit(encoding))
        tail = handle.read()
    text = _decode(sample, encoding, name)
    if size > len(sample):  # the sample may end inside a record
        if "\n" not in text:
            raise Invalid(msg("{name} hat in den ersten {megabytes} MB keinen "
                              "Zeilenumbruch; das ist keine Tabelle, die sich lesen lässt.",
                              name=name, megabytes=SAMPLE_BYTES >> 20), code="no_line_breaks")
        text = text[: text.rfind("\n") + 1]
    delimiter = options.delimiter or detect_delimiter(text)
    records = _records(text, delimiter)
    if not records:
        raise Invalid(msg("Die Datei {name} enthält keine lesbaren Zeilen.", name=name),
                      code="no_rows")
    width = Counter(len(r) for r in records if _filled(r) > 1).most_common(1)
    if not width:
        raise Invalid(msg("In {name} wurde keine Tabelle gefunden: keine Zeile hat mehr als "
                          "ein Feld. Ist das Trennzeichen richtig?", name=name), code="no_table")
    header = header_position(records, options, width[0][0])
    if header.end >= len(records) and size <= len(sample):
        raise Invalid(msg("Die Datei {name} hat eine Kopfzeile, aber keine Datenzeilen.",
                          name=name), code="no_rows")
    columns = max(len(r) for r in records[header.title_rows:] or records)
    labels, label_warnings = labels_from(records[header.title_rows:header.end], columns,
                                         header.banners)
    if header.doubt:
        warnings.append(header.doubt)
    footer = _footer_rows(_decode(tail, _tail_encoding(encoding, sample), name, tail=True),
                          delimiter, columns)
    return TextLayout(encoding, delimiter, header.title_rows, header.rows,
                      _physical_lines(text, delimiter, header.end), footer, labels,
                      warnings + label_warnings)


def _decode(data: bytes, encoding: str, name: str, tail: bool = False) -> str:
    try:
        return codecs.getincrementaldecoder(encoding)(errors="strict").decode(data)
    except UnicodeDecodeError as error:
        if tail:  # the tail may start inside a multi-byte character
            return data[error.end:].decode(encoding, errors="replace")
        raise Invalid(msg("Die Datei {name} lässt sich nicht als {encoding} lesen "
                          "(Byte {byte}). Bitte geben Sie die Kodierung an.",
                          name=name, encoding=encoding, byte=error.start),
                      code="bad_encoding") from None
    except LookupError:
        raise Invalid(msg("Unbekannte Kodierung „{encoding}“.", encoding=encoding),
                      code="bad_encoding") from None


@dataclass
class Header:
    """Where the header is: ``title_rows`` records before it, ``rows`` records long, of which
    the first ``banners`` are group banners (a label stands over the columns up to the next
    label, as a merged cell does). ``doubt`` names another record that might be the header."""

    title_rows: int
    rows: int
    banners: int = 0
    doubt: Warning_ | None = None

    @property
    def end(self) -> int:
        return self.title_rows + self.rows


def header_position(records: list[list[str]], options: ReadOptions,
                    width: int | None = None) -> Header:
    """Title rows (at most one filled cell) come first; header rows follow until data starts.
    A first guess that leaves more than half of the ``width`` labels blank gives way to a full
    header within the next three records: with the guess joined over it when it is a group
    banner, else alone, and saying so when that is doubtful."""
    if options.header_row:
        return Header(options.header_row - 1, 1)
    width = width or max(len(r) for r in records)
    start = 0
    while start < len(records) - 1 and _filled(records[start]) <= 1:
        start += 1
    header = Header(start, 1)
    if _filled(records[start]) * 2 < width:
        header = _beyond_sparse(records, start, width) or header
    end = header.end
    while end < len(records) and not _is_data(records[end]) and end - start < 5 \
            and _filled(records[end]) > 1 and _looks_like_header_continuation(records, end):
        end += 1
    return Header(header.title_rows, end - header.title_rows, header.banners, header.doubt)


YEAR = re.compile(r"^(19|20)\d\d$")
LOOK_AHEAD = 3  # records below a sparse first guess where a full header may stand


def _beyond_sparse(records: list[list[str]], start: int, width: int) -> Header | None:
    """The header when the first guess ``records[start]`` is sparse and a full row of labels
    follows within :data:`LOOK_AHEAD` records; None when none does."""
    for index in range(start + 1, min(start + 1 + LOOK_AHEAD, len(records))):
        if not _full_labels(records[index], width):
            continue
        # a banner's last label stands over the header's last columns
        spread = max(width, len(records[index]))
        banners = _banners_above(records, start, index, spread)
        if banners and all(_certain_banner(records[b], records[index], spread)
                           for b in banners):
            return Header(banners[0], index - banners[0] + 1, len(banners))
        if not _typed_below(records, index):
            # a full row of text over rows of text may be data: keep the guess, and say so
            return Header(start, 1, doubt=_doubt(start, index, start))
        doubt = _doubt(banners[0], index, index) if banners else None
        return Header(index, 1, doubt=doubt)
    return None


def _doubt(first: int, second: int, chosen: int) -> Warning_:
    return Warning_("uncertain_header", msg(
        "Kopfzeile unsicher: Zeile {first} oder {second}? Gelesen wurde Zeile {chosen} als "
        "Kopfzeile; eine andere lässt sich beim Hochladen angeben.",
        first=first + 1, second=second + 1, chosen=chosen + 1))


def _values(record: list[str]) -> list[str]:
    """Cells that are values rather than labels (years may be either)."""
    return [c.strip() for c in record
            if DATA_CELL.match(c.strip()) and not YEAR.match(c.strip())]


def _full_labels(record: list[str], width: int) -> bool:
    """At least four in five cells hold a label, and none a value."""
    return _filled(record) * 5 >= width * 4 and not _values(record)


def _typed_below(records: list[list[str]], index: int) -> bool:
    """Some column labelled in ``records[index]`` holds numbers or dates in most of the rows
    below it: the label is no value of its column."""
    below = [r for r in records[index + 1:index + 21] if _filled(r) > 1][:10]
    for column, label in enumerate(records[index]):
        if label.strip() and below and sum(
                column < len(r) and bool(DATA_CELL.match(r[column].strip()))
                for r in below) * 2 > len(below):
            return True
    return False


def _spans(record: list[str], width: int) -> list[tuple[int, int, str]]:
    """The labels of a banner with the columns they stand over: (first, end, label)."""
    cells = [(i, c.strip()) for i, c in enumerate(record) if c.strip()]
    ends = [i for i, _ in cells[1:]] + [max(width, len(record))]
    return [(i, end, label) for (i, label), end in zip(cells, ends, strict=True)]


def _banners_above(records: list[list[str]], start: int, index: int, width: int) -> list[int]:
    """The banner-like records right above ``records[index]`` (not before ``start``): at
    least two labels, no values, each label over two columns or more."""
    found: list[int] = []
    for above in range(index - 1, start - 1, -1):
        spans = _spans(records[above], width)
        if len(spans) < 2 or _values(records[above]) or any(end - first < 2
                                                               for first, end, _ in spans):
            break
        found.insert(0, above)
    return found


def _stem(label: str) -> str:
    """A label without its numbers: "1. Ladepunkt" and "2. Ladepunkt" are one stem."""
    return " ".join(re.sub(r"[\W\d_]+", " ", label.casefold()).split())


def _certain_banner(banner: list[str], header: list[str], width: int) -> bool:
    """A banner over numbered or repeated groups: two labels differ only in their numbers
    ("1. Ladepunkt", "2. Ladepunkt"; years), or the labels beneath two of them do, or the
    banner tells apart labels the header repeats."""
    spans = _spans(banner, width)
    stems = [_stem(label) for _, _, label in spans]
    beneath = [labels for first, end, _ in spans
               if any(labels := tuple(_stem(c) for c in header[first:end]))]
    if len(set(stems)) < len(stems) or len(set(beneath)) < len(beneath):
        return True
    labels = [(carried, " ".join(c.split()))
              for carried, c in zip(_spread(banner, width), header, strict=False) if c.strip()]
    own = [label for _, label in labels]
    return len(set(own)) < len(own) == len(set(labels))


def _spread(banner: list[str], width: int) -> list[str]:
    """A banner's labels carried over the columns up to the next label."""
    carried, label = [], ""
    for cell in banner[:width] + [""] * (width - len(banner)):
        label = cell if cell.strip() else label
        carried.append(label)
    return carried


def _looks_like_header_continuation(records: list[list[str]], index: int) -> bool:
    """A further header row: no values but years (labels such as "2012" are common in
    statistics; a count or date means the data has begun, e.g. in a first row whose merged
    cells are blank below), and the rows below it hold data (so that a table whose every row
    is text keeps a one-row header)."""
    values = [c.strip() for c in records[index] if DATA_CELL.match(c.strip())]
    if any(not YEAR.match(value) for value in values):
        return False
    return any(_is_data(r) for r in records[index + 1:index + 6])


def _footer_rows(tail: str, delimiter: str, columns: int) -> int:
    """Trailing records with a single filled cell (copyright lines, ``Stand:`` notes). Empty
    records are not counted: they are dropped as blank rows anyway."""
    lines = [line for line in tail.splitlines() if line.strip()]
    count = 0
    for line in reversed(lines[1:]):
        filled = _filled(next(csv.reader([line], delimiter=delimiter), []))
        if filled > 1 or columns <= 2:
            break
        count += filled
    return count


def _physical_lines(text: str, delimiter: str, records: int) -> int:
    """How many lines the first ``records`` records take (quoted cells may hold line breaks)."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    for _ in range(records):
        next(reader, None)
    return reader.line_num
