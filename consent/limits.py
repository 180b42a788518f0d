"""What reading one consent PDF may cost: limits that keep a hostile file's cost bounded (a consent form is
far below each of them).

A module of constants only, so that the command line and the app can tell how long a reading may take
without importing the reader (pdfium, pypdf, pyHanko): that is the reading process's to load.
"""
MAX_PAGES = 100  # a consent form; anything longer is refused rather than half-read
MAX_OCR_PAGES = 10  # scanned pages read by OCR (each costs seconds of Tesseract)
READ_SECONDS = 300  # the whole document, OCR included
MAX_FILE_BYTES = 200 * 1024 * 1024  # read into memory whole; a scanned consent is a few MB
MAX_OBJECTS = 200_000  # objects walked when surveying the document
MAX_DECODED_BYTES = 256 * 1024 * 1024  # all non-image streams together, once decompressed
MAX_IMAGE_PIXELS = 150_000_000  # declared by one image (a Letter page scanned at 1200 dpi is 135 MP)
