"""Realistic German test data for the personal-data guard: valid IBANs, Steuer-IDs and
Versicherungsnummern made with their published check-digit rules (so the validators see
numbers as offices write them), phone numbers as people write them, licence plates of the
Ruhr area."""

from __future__ import annotations

import random

from stdnum.iso7064 import mod_11_10


def iban(bank: str, account: int) -> str:
    """A German IBAN (ISO 13616 check digits: 98 - BBAN·DE00 mod 97), written in groups."""
    bban = f"{bank}{account:010d}"
    check = 98 - int(bban + "131400") % 97
    code = f"DE{check:02d}{bban}"
    return " ".join(code[i:i + 4] for i in range(0, len(code), 4))


def tax_id(seed: int) -> str:
    """An 11-digit Steuer-ID: in the first ten digits exactly one digit twice, one missing."""
    rng = random.Random(seed)
    digits = rng.sample("123456789", 9)
    digits.insert(rng.randrange(1, 10), digits[rng.randrange(0, 9)])
    body = "".join(digits)
    number = body + mod_11_10.calc_check_digit(body)
    return f"{number[:2]} {number[2:5]} {number[5:8]} {number[8:]}"


_WEIGHTS = (2, 1, 2, 5, 7, 1, 2, 1, 2, 1, 2, 1)


def social_security(area: str, birth: str, letter: str, serial: str) -> str:
    """A Versicherungsnummer (DRV's check digit), e.g. ``15 070649 C 103``."""
    digits = area + birth + f"{ord(letter) - 64:02d}" + serial
    check = sum(sum(divmod(int(d) * w, 10)) for d, w in zip(digits, _WEIGHTS, strict=True)) % 10
    return f"{area} {birth} {letter} {serial}{check}"


PEOPLE = [
    ("Anna", "Schmidt", "anna.schmidt@web.de", "0231 50-12345", "12.03.1984", "DO-AS 123"),
    ("Mehmet", "Yılmaz", "m.yilmaz@gmx.de", "+49 234 9101234", "01.07.1990", "BO-MY 42"),
    ("Piotr", "Nowak", "piotr.nowak@t-online.de", "0171 2345678", "23.11.1975", "E-PN 7"),
    ("Sabine", "Müller", "sabine.mueller@posteo.de", "0209 1694455", "05.05.1962", "GE-SM 1960"),
    ("Thomas", "Becker", "t.becker@web.de", "0231 9876543", "30.01.2001", "DO-TB 88"),
    ("Laura", "Hoffmann", "laura.h@gmail.com", "0176 55512345", "14.02.1999", "UN-LH 5"),
    ("Paul", "Wagner", "paul.wagner@online.de", "02302 123456", "09.09.1955", "EN-PW 300"),
    ("Fatma", "Demir", "fatma.demir@web.de", "0157 33344455", "17.06.1988", "HER-FD 12"),
]
DISTRICTS = ["Innenstadt-Nord", "Innenstadt-Nord", "Hörde", "Hörde", "Hörde", "Eving",
             "Eving", "Brackel"]
ZONES = ["A", "A", "A", "A", "B", "B", "B", "C"]
POSTCODES = ["44137", "44137", "44263", "44263", "44263", "44339", "44339", "44309"]


def residents_csv() -> str:
    """Bewohnerparkausweise: a table full of personal data, with places to map."""
    lines = ["Vorname;Nachname;E-Mail;Telefon;Geburtsdatum;Kfz-Kennzeichen;IBAN;Steuer-ID;"
             "Versicherungsnummer;PLZ;Stadtteil;Zone;Ausweisnummer;Gebühr;lon;lat"]
    for i, (first, last, mail, phone, born, plate) in enumerate(PEOPLE):
        day, month, year = born.split(".")
        lines.append(";".join([
            first, last, mail, phone, born, plate, iban("44050199", 1_234_567 + i * 7919),
            tax_id(i), social_security("15", day + month + year[2:], last[0].upper(),
                                       f"{i:02d}"),
            POSTCODES[i], DISTRICTS[i], ZONES[i], f"BP-2026-{1000 + i}", f"{30 + i},00",
            f"7.{4600 + i * 10}", f"51.{5100 + i * 10}"]))
    return "\n".join(lines) + "\n"


def stations_csv() -> str:
    """A table without personal data that looks a little like one (names, codes, postcodes,
    office mailboxes, dates)."""
    lines = ["Name;Betreiber;PLZ;Kennzeichen;Kontakt;Inbetriebnahme;Ladepunkte;Nummer"]
    for i in range(8):
        lines.append(";".join([
            f"Ladesäule Markt {i}", "DEW21", POSTCODES[i], "ja" if i % 2 else "nein",
            "info@dew21.de", f"0{i + 1}.05.2021", str(2 + i % 3), f"{4711000 + i * 13}"]))
    return "\n".join(lines) + "\n"
