"""Veil: the Streamlit workstation. Pages are listed by role; an anonymous visitor sees the sign-in only, at
whatever address they asked for, and lands on that page once signed in.

Pages are thin: each calls one records.services function per user action, and the service checks the
role again, so hiding a page is convenience, not the lock. They live in app_pages/, not pages/: Streamlit
runs a script in a folder named pages/ directly when its address is asked for, without this file's gate.
"""
import os

os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import streamlit as st  # noqa: E402

from ui import session  # noqa: E402

st.set_page_config(page_title="Veil", page_icon="🛡️", layout="wide")

actor = session.current_actor()
if actor is None:
    session.write_cookie()   # drops the cookie of a session just closed
    st.navigation(session.sign_in_pages(), position="hidden").run()
else:
    session.records()   # fail with a clear message before any page if the records cannot be opened
    with st.sidebar:
        session.write_cookie()   # hands the browser the cookie of a session just opened
        st.markdown(f"Signed in as **{actor.username}** ({actor.role})")
        signing_out = st.button("Sign out", key="sign_out", icon=":material/logout:")
    session.idle_watch()
    pages = [st.Page(p.script, title=p.title, icon=p.icon, url_path=p.key, default=p.key == "home")
             for p in session.pages_for(actor)]
    page = st.navigation(pages)
    if signing_out:
        session.sign_out()
        if session.oidc_configured() and st.user.is_logged_in:
            st.logout()   # also end the identity provider's cookie, or it would sign straight back in
        st.switch_page(session.PAGE["home"].script)   # the next person signs in at the start page, not this one
    page.run()
