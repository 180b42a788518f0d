"""Helpers shared by the Streamlit pages: sessions and guards (session.py), presentation (views.py).

Nothing here decides a business rule; every decision is a call into records.services.
"""
