"""Veil: the Streamlit workstation. Pages are thin; every rule lives in deid/ and consent/."""
import os

import streamlit as st

os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

st.set_page_config(page_title="Veil", page_icon="🛡️", layout="wide")

pages = [st.Page("pages/deidentify.py", title="De-identify media", icon="🫥", default=True)]
st.navigation(pages).run()
