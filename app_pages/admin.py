"""Admin: users and roles, the de-identification profiles in use, and the retention policies."""
import pandas as pd
import streamlit as st

from records import services
from records.models import ROLES
from deid.profile import PROFILE_DIR, ProfileError, available_profiles, load_profile
from ui.session import FAILED, attempt, open_page, rerun_with_note

actor, rec = open_page("admin", "Administration")
users_tab, profiles_tab, retention_tab = st.tabs(["Users and roles", "De-id profiles", "Retention"])

with users_tab:
    users = attempt("Listing users", services.list_users, rec, actor)
    if users is not FAILED:
        st.dataframe(pd.DataFrame(users), hide_index=True, width="stretch")
        with st.form("add_user", clear_on_submit=True):
            st.markdown("**Add a user**")
            name_col, role_col = st.columns(2)
            username = name_col.text_input("User name")
            role = role_col.selectbox("Role", ROLES)
            password = st.text_input("Initial password (at least 10 characters)", type="password")
            if st.form_submit_button("Add user", type="primary"):
                made = attempt(f"Adding {username.strip() or 'the user'}", services.add_user, rec, actor, username,
                               password, role)
                if made is not FAILED:
                    rerun_with_note("admin", f"User {made.username} added as {made.role}.")
        others = [u for u in users if u["username"] != actor.username]   # nobody locks themselves out
        if others:
            st.markdown("**Change an account**")
            by_name = {u["username"]: u for u in others}
            who = st.selectbox("User", list(by_name), key="admin_who")
            chosen = by_name[who]
            toggle_col, role_col, set_col = st.columns([2, 2, 1], vertical_alignment="bottom")
            if toggle_col.button(f"Disable {who}" if chosen["active"] else f"Enable {who}", key="admin_toggle"):
                if attempt("Changing the account", services.set_user_active, rec, actor, who,
                           not chosen["active"]) is not FAILED:
                    rerun_with_note("admin", f"{who} {'disabled' if chosen['active'] else 'enabled'}.")
            new_role = role_col.selectbox("New role", ROLES, index=ROLES.index(chosen["role"]),
                                        key=f"admin_role_{who}")
            if set_col.button("Set role", key="admin_set_role", disabled=new_role == chosen["role"]):
                if attempt("Changing the role", services.set_user_role, rec, actor, who, new_role) is not FAILED:
                    rerun_with_note("admin", f"{who} is now {new_role}; it applies from their next action.")
            with st.form("admin_reset", clear_on_submit=True):
                new_password = st.text_input(f"New password for {who} (at least 10 characters)", type="password")
                if st.form_submit_button("Reset the password"):
                    if attempt("Resetting the password", services.reset_password, rec, actor, who,
                               new_password) is not FAILED:
                        rerun_with_note("admin", f"{who}'s password was reset; give it to them in person.")

with profiles_tab:
    st.caption("Profiles are versioned data in assets/profiles/; every report and manifest names the profile's "
               "id and SHA-256.")
    for name in available_profiles():
        try:
            profile = load_profile(name)
        except ProfileError as exc:
            st.error(f"{name}.toml: {exc}")
            continue
        with st.expander(f"{profile.id} · {profile.settings.get('description', '')}"):
            st.markdown(f"SHA-256 `{profile.sha256}` · faces: {profile.settings['faces']['action']} "
                        f"({profile.settings['faces']['method']})")
            st.code((PROFILE_DIR / f"{name}.toml").read_text(encoding="utf-8"), language="toml")

with retention_tab:
    s = rec.settings
    st.markdown("\n".join([
        f"- Originals never released are deleted after **{s.original_retention_days} days**"
        f" (VEIL_ORIGINAL_RETENTION_DAYS).",
        f"- Originals are deleted on release: **{'yes' if s.delete_original_on_release else 'no'}**"
        " (VEIL_DELETE_ORIGINAL_ON_RELEASE).",
        f"- Consent PDFs are kept **{s.consent_retention_years} years** (VEIL_CONSENT_RETENTION_YEARS).",
        f"- Two-person rule (the approver is not the uploader): **{'on' if s.two_person_rule else 'off'}**"
        " (VEIL_TWO_PERSON_RULE).",
        f"- Data folder: `{s.data_dir}`"]))
    st.caption("Policies are set in the environment or .streamlit/secrets.toml and take effect on restart.")
    if st.button("Apply retention now", icon=":material/cleaning_services:"):
        report = attempt("Housekeeping", services.housekeeping, rec, actor)
        if report is not FAILED:
            st.success("Housekeeping done: " + ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in report.items()))
