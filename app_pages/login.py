"""Sign in with a local account; on first start, create the first administrator. Nothing else is shown
to a visitor who has not signed in."""
import streamlit as st

from records import services
from ui.session import FAILED, NOTICE, attempt, has_users, oidc_actor, oidc_configured, records, sign_in

rec = records()
st.title("Veil")
st.caption("De-identified patient media, released only under a signed consent.")
if notice := st.session_state.pop(NOTICE, None):
    st.info(notice)

if not has_users(rec):
    st.subheader("Create the first administrator")
    st.write("Veil has no users yet. The first account administers the others.")
    with st.form("first_admin"):
        username = st.text_input("User name")
        password = st.text_input("Password (at least 10 characters)", type="password")
        repeat = st.text_input("Repeat the password", type="password")
        if st.form_submit_button("Create administrator", type="primary"):
            if password != repeat:
                st.error("The two passwords differ.")
            else:
                created = attempt("Creating the administrator", services.add_first_admin, rec, username, password)
                if created is not FAILED:
                    actor = attempt("Signing in", services.authenticate, rec, username, password)
                    if actor is not FAILED:
                        sign_in(actor)
                        st.rerun()
    st.stop()

if oidc_configured():
    if st.user.is_logged_in:
        actor = attempt("Signing in with your organisation account", oidc_actor, rec)
        if actor is not FAILED:
            sign_in(actor)
            st.rerun()
        if st.button("Sign out of the organisation account"):
            st.logout()
    elif st.button("Sign in with your organisation account", type="primary"):
        st.login()
    st.divider()

st.subheader("Sign in")
with st.form("sign_in"):
    username = st.text_input("User name")
    password = st.text_input("Password", type="password")
    if st.form_submit_button("Sign in", type="primary"):
        actor = attempt("Signing in", services.authenticate, rec, username, password)
        if actor is not FAILED:
            sign_in(actor)
            st.rerun()
