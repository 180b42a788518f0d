"""Build the model consent form PDF from its source: `python -m scripts.build_consent_form [OUT]`.

Source: assets/consent_form/model_form.toml. Default output: assets/consent_form/model-consent-form.pdf.
"""
from __future__ import annotations

import sys
from pathlib import Path

from consent.forms import MODEL_PDF, build_model_form


def main(argv: list[str]) -> int:
    out = Path(argv[0]) if argv else MODEL_PDF
    data = build_model_form()
    tmp = out.with_suffix(".tmp")
    tmp.write_bytes(data)
    tmp.replace(out)  # never leave a half-written form behind
    print(f"{out}: {len(data)} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
