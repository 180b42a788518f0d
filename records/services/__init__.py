"""One plain function per user action, in one module per task a person does. The Streamlit pages, the CLI
and the tests all call these, through `from records import services`.

  users         sign in; the administration of users and roles
  consents      register a consent PDF (or queue it for a worker to read), confirm its scope, find, view the
                PDF, revoke
  signing       a consent signed on a tablet in Veil: the model form, sealed, then registered
  intake        upload media, link its consent, confirm the patient, process it
  review        re-render with a reviewer's edits (queued for a worker), mark reviewed, list and preview outputs
  pictures      a small picture and the facts of a label for each output, where people decide about it
  releases      request, approve through the gate, record the post, takedowns, download, export
  audit         verify the chain, events, summary, look a file up
  jobs          queue de-identification for the workers, follow a job's progress, cancel, retry
  upkeep        housekeeping: tidy up after crashes, apply retention

Beneath them: core (the open records, errors, authorisation, the audit line), views (what they return),
blobs (when a stored file may be deleted), opening (open_records) and work (the worker's side of a job).
"""
from records.audit import SYSTEM
from records.services.audit import audit_events, audit_summary, find_file, verify_audit
from records.services.blobs import referenced_blobs
from records.services.consent_readings import READ_AS, enqueue_consent_reading, registered_already
from records.services.consents import (ATTESTATION, confirm_new_authorization, confirm_scope, consent_details,
                                       find_consents, list_consents, needs_attestation, register_consent,
                                       revoke_consent, view_consent_pdf)
from records.services.core import RecordNotFound, Records, ScopeConflict, WorkflowError
from records.services.jobs import (JobView, cancel_job, enqueue_processing, get_job, jobs_replacing, list_jobs,
                                   retry_job)
from records.services.signing import sign_consent_in_veil
from records.services.upkeep import housekeeping
from records.services.intake import (confirm_patient, link_consent, link_read_media, list_assets, others_named,
                                     process, upload_limit_mb, upload_media, view_original)
from records.services.opening import check_key, open_records
from records.services.pictures import OutputLabel, output_labels, output_thumbnails
from records.services.releases import (Obstacle, ReleaseObstacles, approve_release, complete_takedown,
                                       download_output, export_package, list_releases, record_post,
                                       release_obstacles, request_release, takedown_tasks)
from records.services.review import (enqueue_rerender, list_outputs, mark_reviewed, preview_output,
                                     rerender_with_edits)
from records.services.users import (FIRST_START, add_first_admin, add_user, authenticate, authenticate_external,
                                    confirm_key_backup, key_backup, list_users, reset_password, set_user_active,
                                    set_user_role)
from records.services.views import AssetView, ConsentView, OutputView, ReleaseView
from records.users import AuthenticationFailed, PermissionDenied

__all__ = [
    # errors
    "AuthenticationFailed", "PermissionDenied", "RecordNotFound", "ScopeConflict", "WorkflowError",
    # the open records and who acts without signing in
    "Records", "open_records", "check_key", "SYSTEM", "FIRST_START",
    # views
    "AssetView", "ConsentView", "OutputView", "ReleaseView",
    # users
    "authenticate", "authenticate_external", "add_first_admin", "add_user", "set_user_active", "set_user_role",
    "reset_password", "list_users", "key_backup", "confirm_key_backup",
    # consents
    "register_consent", "enqueue_consent_reading", "consent_details", "confirm_new_authorization", "confirm_scope", "list_consents",
    "find_consents", "registered_already", "view_consent_pdf", "revoke_consent", "needs_attestation", "ATTESTATION", "READ_AS", "sign_consent_in_veil",
    # intake
    "upload_media", "others_named", "upload_limit_mb", "link_consent", "link_read_media", "confirm_patient", "list_assets",
    "view_original", "process",
    # jobs
    "JobView", "enqueue_processing", "list_jobs", "jobs_replacing", "get_job", "cancel_job", "retry_job",
    # review
    "rerender_with_edits", "enqueue_rerender", "mark_reviewed", "list_outputs", "preview_output",
    # pictures and labels of outputs
    "output_labels", "output_thumbnails", "OutputLabel",
    # releases
    "request_release", "approve_release", "release_obstacles", "Obstacle", "ReleaseObstacles", "record_post",
    "list_releases", "takedown_tasks", "complete_takedown", "download_output", "export_package",
    # audit
    "verify_audit", "audit_events", "audit_summary", "find_file",
    # housekeeping
    "housekeeping", "referenced_blobs",
]
