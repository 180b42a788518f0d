"""Read a consent PDF: text per page, form fields tied to their printed labels, signature fields,
signature integrity, and OCR for image-only pages.

pypdf reads the document structure (text, AcroForm fields, /Sig fields, encryption); pypdfium2
supplies positions (which printed words sit beside a checkbox) and renders pages for OCR and for
checkboxes that are only drawn on the page. Checkbox states and filled-in values are written into
the page text at their label, so the scope analysis reads one annotated text per page:
"☒ label" for a ticked box, "☐ label" for an empty one.
"""

from consent.pdf.content import (TICKED, UNTICKED, Checkbox, Page, PdfContent, PdfError, SignatureField, TextField,
                                 kind_of, normalise_text)
from consent.pdf.reader import read_pdf

__all__ = ["TICKED", "UNTICKED", "Checkbox", "Page", "PdfContent", "PdfError", "SignatureField", "TextField", "kind_of",
           "normalise_text", "read_pdf"]
