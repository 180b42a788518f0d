"""Helpers shared by the Streamlit pages: sessions and guards (session.py), presentation (views.py), pictures
and labels of outputs (thumbnails.py), the look-up by file (lookup.py), the actions that clear a release
refusal (fixes.py), and the live jobs panel (jobs_panel.py).

Nothing here decides a business rule; every decision is a call into records.services.
"""
