"""Writes the example's PDFs (flows/standard/documents/*.pdf) from the text below.

A PDF 1.4 file with Helvetica text on A4 pages: written by hand here so the documents are produced by code in the
repository and need no PDF-writing package; pypdf reads them back like any other text PDF. The output is
byte-for-byte the same on every run (no dates, no random ids), so the index hash stays stable.

    python3 examples/chat_with_pdf/scripts/make_pdfs.py [output folder]
"""
import os
import sys
import textwrap

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "flows", "standard", "documents")

DOCUMENTS = {
    "cycle_share_handbook.pdf": [
        [
            "Harbour City Cycle Share - Rider Handbook",
            "Membership. A day pass costs 6 euros and includes unlimited rides of up to 30 minutes. "
            "An annual membership costs 90 euros and includes unlimited rides of up to 45 minutes. "
            "Students with a valid card get the annual membership for 60 euros.",
            "Unlocking a bike. Scan the QR code on the handlebar with the app, or hold your member card "
            "against the reader on the dock. The dock light turns green and the bike is released within 5 seconds.",
            "Overtime fees. Each extra 15 minutes beyond the included ride time costs 1.50 euros. "
            "Rides longer than 24 hours are treated as a lost bike.",
        ],
        [
            "Electric bikes. The e-bike battery lasts about 50 kilometres on a full charge. "
            "E-bikes charge automatically while docked at a charging station marked with a lightning sign. "
            "An e-bike ride costs an extra 0.10 euros per minute for every member.",
            "Damage reporting. Press the red wrench button on the dock within 10 minutes of returning a damaged bike. "
            "The bike is then locked for repair and you are not charged for the ride.",
            "Lost bikes. A bike not returned within 24 hours is reported lost. "
            "The replacement fee for a lost bike is 450 euros, refunded if the bike is found within 30 days.",
        ],
    ],
    "community_greenhouse_rules.pdf": [
        [
            "Elm Street Community Greenhouse - House Rules",
            "Opening hours. The greenhouse is open from 7 am to 9 pm every day from March to October, "
            "and from 9 am to 5 pm from November to February. Members enter with the door code sent each month.",
            "Watering. Automatic drip watering runs at 6 am and 8 pm. Hand watering of seedlings is allowed "
            "at any time, but the hoses must be coiled back on their hooks after use.",
            "Plots. Each member tends one raised plot of 2 square metres. Plots left untended for six weeks "
            "are offered to the waiting list.",
        ],
        [
            "Pest control. Chemical pesticides are not allowed in the greenhouse. Use the ladybird larvae and "
            "the neem oil spray kept in the blue cabinet, and log every treatment on the pest board.",
            "Tool library. Spades, forks, pruners and watering cans can be borrowed from the tool library "
            "for up to 7 days. Sign the tool out in the tool library notebook and clean it before returning it.",
            "Compost. Green waste goes into the left compost bay; woody stems go to the shredder pile. "
            "The compost is turned on the first Saturday of every month.",
        ],
    ],
}


def _escape(text):
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def _page_stream(paragraphs):
    lines = ["BT", "/F1 11 Tf", "14 TL", "56 780 Td"]
    for paragraph in paragraphs:
        for line in textwrap.wrap(paragraph, 88):
            lines.append(f"({_escape(line)}) Tj T*")
        lines.append("T*")
    lines.append("ET")
    return "\n".join(lines).encode("latin-1")


def pdf_bytes(pages):
    """A complete PDF file: catalog, page tree, one font, one page and content stream per page."""
    n = len(pages)
    font_id = 3
    objects = {1: b"<< /Type /Catalog /Pages 2 0 R >>"}
    kids = " ".join(f"{4 + 2 * i} 0 R" for i in range(n))
    objects[2] = f"<< /Type /Pages /Kids [{kids}] /Count {n} >>".encode()
    objects[font_id] = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"
    for i, paragraphs in enumerate(pages):
        page_id, content_id = 4 + 2 * i, 5 + 2 * i
        objects[page_id] = (
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
            f"/Resources << /Font << /F1 {font_id} 0 R >> >> /Contents {content_id} 0 R >>"
        ).encode()
        stream = _page_stream(paragraphs)
        objects[content_id] = b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream"
    out = bytearray(b"%PDF-1.4\n")
    offsets = {}
    for oid in sorted(objects):
        offsets[oid] = len(out)
        out += b"%d 0 obj\n" % oid + objects[oid] + b"\nendobj\n"
    xref = len(out)
    count = max(objects) + 1
    out += b"xref\n0 %d\n0000000000 65535 f \n" % count
    for oid in range(1, count):
        out += b"%010d 00000 n \n" % offsets[oid]
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (count, xref)
    return bytes(out)


def main(out):
    os.makedirs(out, exist_ok=True)
    for name, pages in DOCUMENTS.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(pdf_bytes(pages))
        print(f"wrote {os.path.normpath(os.path.join(out, name))}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else OUT)
