"""The checker says "covered" only for an explicit, un-negated, ticked grant naming social media or a
platform, and quotes what it relied on. Every PDF here is built by the test."""
from __future__ import annotations

from datetime import date

import pytest

from consent.check import check_pdf
from consent.dates import find_dates
from consent.verdict import Verdict
from consent_fixtures import boxes_after_labels_pdf, bullets_drawn_pdf, drawn_boxes_pdf, text_pdf, write


def judge(tmp_path, *pages: str) -> Verdict:
    return check_pdf(write(tmp_path, "consent.pdf", text_pdf(*pages)))


def quotes(result: Verdict, about: str) -> list[str]:
    return [e["text"] for e in result.evidence if e["about"] == about]


# ------------------------------------------------------------------------------ explicit grants

def test_an_explicit_grant_naming_social_media_is_covered_with_its_sentence_quoted(tmp_path):
    result = judge(tmp_path, "Photo consent\n"
                             "I authorize Bright Clinic to post my before-and-after photographs on its social media "
                             "accounts such as Instagram and Facebook.")
    assert result.social_media == "covered"
    assert result.platforms == ["instagram", "facebook"]  # "such as" names what is granted
    grant = "I authorize Bright Clinic to post my before-and-after photographs"
    assert any(grant in q for q in quotes(result, "grant"))
    assert result.evidence[0]["page"] == 1


def test_a_grant_naming_platforms_only_covers_those_platforms(tmp_path):
    result = judge(tmp_path, "I authorize the clinic to publish my photographs on Instagram and TikTok.")
    assert result.social_media == "covered"
    assert result.platforms == ["instagram", "tiktok"]


def test_twitter_and_x_are_reported_as_x(tmp_path):
    result = judge(tmp_path, "I consent to the clinic sharing my photos on X (formerly Twitter) and YouTube.")
    assert result.social_media == "covered"
    assert result.platforms == ["youtube", "x"]


def test_including_but_not_limited_to_is_not_a_negation(tmp_path):
    result = judge(tmp_path, "I authorize the clinic to share my photographs on social media platforms, "
                             "including but not limited to Facebook and Instagram.")
    assert result.social_media == "covered"
    assert result.excluded_platforms == []


# ------------------------------------------------------------------------------ negation, limits

@pytest.mark.parametrize("sentence", [
    "I do not authorize any posting of my photographs on social media.",
    "I authorize use of my photographs in my medical record, but not on social media.",
    "My photographs will never be shared on Facebook or Instagram, and I agree to their use for teaching.",
    "I refuse permission for my photos to appear on social media.",
])
def test_a_negated_grant_is_not_covered(tmp_path, sentence):
    result = judge(tmp_path, f"Photo consent\n{sentence}")
    assert result.social_media == "not_covered"
    assert quotes(result, "denial")


def test_an_excluded_platform_is_listed_and_the_rest_stays_covered(tmp_path):
    result = judge(tmp_path, "I authorize the clinic to post my photographs on social media, except TikTok.")
    assert result.social_media == "covered"
    assert result.platforms == []
    assert result.excluded_platforms == ["tiktok"]


def test_a_grant_contradicted_elsewhere_is_unclear(tmp_path):
    result = judge(tmp_path, "I authorize the clinic to post my photographs on Instagram.\n\n"
                             "I do not consent to any use of my photographs on social media.")
    assert result.social_media == "unclear"
    assert quotes(result, "grant") and quotes(result, "denial")


def test_a_grant_beside_a_social_media_box_left_empty_is_unclear(tmp_path):
    result = judge(tmp_path, "I authorize the clinic to post my photographs on social media.\n\n"
                             "I give permission to use my photographs in:\n☐ Social media\n☒ Brochures")
    assert result.social_media == "unclear"


def test_website_and_brochures_only_are_not_covered(tmp_path):
    result = judge(tmp_path, "I authorize the clinic to publish my photographs on the clinic's website and in "
                             "its printed brochures only.")
    assert result.social_media == "not_covered"
    assert quotes(result, "other_use")


@pytest.mark.parametrize("sentence", [
    "I consent to the use of my photographs in any media, including the internet.",
    "Photographs of me may be electronically displayed via the Internet, and I agree to this use.",
    "I give permission to use photographs of my child, including print or web-based publications.",
])
def test_a_vague_internet_or_any_media_grant_is_not_covered(tmp_path, sentence):
    result = judge(tmp_path, sentence)
    assert result.social_media == "not_covered"
    assert quotes(result, "vague_channel")


def test_teaching_and_publications_only_are_not_covered(tmp_path):
    result = judge(tmp_path, "I also authorize the doctor to use photographs and treatment records for the "
                             "purposes of teaching, research and scientific publications.")
    assert result.social_media == "not_covered"


def test_social_media_mentioned_without_a_grant_is_unclear(tmp_path):
    result = judge(tmp_path, "I understand that my photographs may be posted on the clinic's Facebook page.")
    assert result.social_media == "unclear"
    assert quotes(result, "mention_without_grant")


def test_a_title_run_into_a_grant_of_something_else_is_not_covered(tmp_path):
    # No period between the title and the sentence: the title's words must not lend it a scope.
    result = judge(tmp_path, "Social Media Photo Release\n"
                             "I authorize the clinic to use my photographs in its printed brochure.")
    assert result.social_media != "covered"


def test_intake_form_traps_are_not_social_media(tmp_path):
    result = judge(tmp_path, "New Patient History\n"
                             "Name ______________ Social Security#: ____/____/____\n"
                             "Lifestyle challenges: Social Events Mindless eating Boredom eating\n"
                             "HOW DID YOU HEAR ABOUT THE CLINIC? Internet: Google Yahoo Other?\n"
                             "I consent to treatment and authorize release of my records to my insurer.")
    assert result.social_media == "not_covered"
    assert "social media is not mentioned" in result.reasons


def test_a_threads_face_lift_is_not_the_threads_platform(tmp_path):
    result = judge(tmp_path, "I consent to a PDO threads lift. I agree to photographs of the threads for my chart.")
    assert result.social_media == "not_covered"
    assert result.platforms == []


# ----------------------------------------------------------------------------------- checkboxes

def test_an_unticked_social_media_box_is_not_covered(tmp_path):
    result = judge(tmp_path, "I give permission to use my photographs in:\n"
                             "☐ Social media (Instagram, Facebook)\n"
                             "☒ The clinic's printed brochure")
    assert result.social_media == "not_covered"
    assert any("☐ Social media" in q for q in quotes(result, "option_not_ticked"))


def test_a_ticked_social_media_box_is_covered(tmp_path):
    result = judge(tmp_path, "I give permission to use my photographs in:\n"
                             "☒ Social media (Instagram, Facebook, etc.)\n"
                             "☐ The clinic's printed brochure")
    assert result.social_media == "covered"
    assert any("☒ Social media" in q for q in quotes(result, "grant"))


def test_boxes_drawn_on_the_page_count_only_when_ticked(tmp_path):
    lead = "I give permission to use my photographs in the following:"
    unticked = check_pdf(write(tmp_path, "a.pdf", drawn_boxes_pdf(lead, [("Website", True),
                                                                         ("Social media (Instagram)", False)])))
    ticked = check_pdf(write(tmp_path, "b.pdf", drawn_boxes_pdf(lead, [("Website", False),
                                                                       ("Social media (Instagram)", True)])))
    assert unticked.social_media == "not_covered"
    assert ticked.social_media == "covered"
    assert ticked.platforms == ["instagram"]
    assert [c["ticked"] for c in ticked.checkboxes] == [False, True]
    assert ticked.checkboxes[1]["label"] == "Social media (Instagram)"


def test_a_box_printed_after_its_label_is_tied_to_that_label(tmp_path):
    lead = "I give permission to use my photographs in the following:"
    website = check_pdf(write(tmp_path, "w.pdf", boxes_after_labels_pdf(
        lead, [("Website", True), ("Social media", False)])))
    social = check_pdf(write(tmp_path, "s.pdf", boxes_after_labels_pdf(
        lead, [("Website", False), ("Social media", True)])))
    assert website.social_media == "not_covered"
    assert social.social_media == "covered"
    assert [(c["label"], c["ticked"]) for c in website.checkboxes] == [("Website", True), ("Social media", False)]


def test_a_tick_as_close_to_two_labels_is_given_to_neither(tmp_path):
    # "Website [x] Social media [ ] Print [ ]" evenly spaced: is the tick Website's or Social media's?
    result = check_pdf(write(tmp_path, "a.pdf", boxes_after_labels_pdf(
        "I give permission to use my photographs in the following:",
        [("Website", True), ("Social media", False), ("Print", False)], gap=8.0, spacing=8.0)))
    assert result.social_media == "unclear"
    assert result.checkboxes[0]["label_side"] == "ambiguous"


def test_options_behind_a_printed_mark_the_checker_cannot_read_are_unclear(tmp_path):
    # A drawn bullet could as well be an empty box: never "covered" on that.
    result = check_pdf(write(tmp_path, "c.pdf", bullets_drawn_pdf(
        "I agree to the following:", ["My photographs may be posted on Instagram.", "I will not be paid."])))
    assert result.social_media == "unclear"


def test_a_box_under_a_negated_lead_in_is_refused(tmp_path):
    result = judge(tmp_path, "I do NOT authorize use of my photographs in:\n☒ Social media\n☐ Brochures")
    assert result.social_media == "not_covered"


def test_yes_and_no_boxes_decide_a_question(tmp_path):
    no = judge(tmp_path, "May we post your photographs on our social media pages? ☐ Yes ☒ No")
    yes = check_pdf(write(tmp_path, "yes.pdf", text_pdf(
        "May we post your photographs on our social media pages? ☒ Yes ☐ No")))
    neither = check_pdf(write(tmp_path, "neither.pdf", text_pdf(
        "May we post your photographs on our social media pages? ☐ Yes ☐ No")))
    assert no.social_media == "not_covered"
    assert yes.social_media == "covered"
    assert neither.social_media == "not_covered"


@pytest.mark.parametrize("sentence", [
    "Patients who agree to have their photographs on Instagram sign a separate form.",
    "We may ask for your permission to post photographs on Instagram in the future.",
    "Staff must obtain written consent before posting patient photographs on social media.",
])
def test_a_grant_someone_else_might_give_is_not_covered(tmp_path, sentence):
    result = judge(tmp_path, sentence)
    assert result.social_media != "covered"


def test_a_question_alone_grants_nothing(tmp_path):
    result = judge(tmp_path, "Do you consent to your photographs being posted on Instagram?")
    assert result.social_media != "covered"


# ---------------------------------------------------------------------------------- identifiable

def test_de_identified_only_is_reported(tmp_path):
    result = judge(tmp_path, "I authorize the clinic to post my photographs on social media. "
                             "My face must be blurred so that I cannot be recognized.")
    assert result.social_media == "covered"
    assert result.identifiable == "deidentified_only"


def test_identifiable_images_allowed_is_reported(tmp_path):
    result = judge(tmp_path, "I authorize the clinic to post my photographs on Instagram, "
                             "and I agree that my face may be shown.")
    assert result.identifiable == "allowed"


def test_identifiable_health_information_is_not_about_faces(tmp_path):
    result = judge(tmp_path, "I authorize the clinic to post my photographs on Instagram. "
                             "Individually identifiable health information will not be disclosed.")
    assert result.identifiable == "unclear"


# ---------------------------------------------------------------------------------------- expiry

def test_an_expired_authorization_reports_its_past_end_date(tmp_path):
    result = judge(tmp_path, "I authorize the clinic to post my photographs on Instagram. "
                             "This authorization expires on March 3, 2021.")
    assert result.expires == "2021-03-03"
    assert date.fromisoformat(result.expires) < date.today()
    assert quotes(result, "expiry")


def test_an_expiry_event_is_reported_when_no_date_is_written(tmp_path):
    result = judge(tmp_path, "I authorize the clinic to post my photographs on Instagram. "
                             "This authorization expires at the end of my treatment.")
    assert result.expires is None
    assert result.expires_event == "the end of my treatment"


def test_no_time_limit_is_reported_as_no_expiry(tmp_path):
    result = judge(tmp_path, "There is no time limit on the validity of this release.")
    assert result.expires is None and result.no_expiry_stated is True


@pytest.mark.parametrize("text, expected, ambiguous", [
    ("2027-06-30", date(2027, 6, 30), False),
    ("June 30, 2027", date(2027, 6, 30), False),
    ("30 June 2027", date(2027, 6, 30), False),
    ("Jan. 5th, 2027", date(2027, 1, 5), False),
    ("30 de junio de 2027", date(2027, 6, 30), False),
    ("06/30/2027", date(2027, 6, 30), False),
    ("30.06.27", date(2027, 6, 30), False),
    ("03/04/2027", date(2027, 3, 4), True),  # 3 April or 4 March: the earlier is kept
    ("junio de 2027", date(2027, 6, 1), False),
])
def test_dates_are_read_in_many_formats(text, expected, ambiguous):
    found = find_dates(f"valid until {text} inclusive")
    assert [(d.value, d.ambiguous) for d in found] == [(expected, ambiguous)]


# ----------------------------------------------------------------------- revocation and minors

def test_revocation_clause_and_guardian_are_reported(tmp_path):
    result = judge(tmp_path, "I authorize the clinic to post photographs of my child on Instagram.\n\n"
                             "I may revoke this consent at any time by written notice to the clinic.\n\n"
                             "Signature of parent or legal guardian: /s/ Pat Example")
    assert result.revocation_clause is True
    assert result.guardian["mentioned"] is True
    assert result.signed is True
    assert quotes(result, "revocation")


def test_revoking_social_media_use_is_neither_grant_nor_refusal(tmp_path):
    result = judge(tmp_path, "I authorize the clinic to post my photographs on social media.\n\n"
                             "I may revoke this authorization for social media at any time.")
    assert result.social_media == "covered"


# ---------------------------------------------------------------------------------------- Spanish

def test_a_spanish_grant_is_covered_with_its_expiry(tmp_path):
    result = judge(tmp_path, "Consentimiento para fotografías\n"
                             "Autorizo a la Clínica Sol a publicar mis fotografías en sus redes sociales "
                             "(Instagram y Facebook). Esta autorización vence el 30 de junio de 2027.\n"
                             "Puedo revocar este consentimiento en cualquier momento.\n"
                             "Firma: ____________")
    assert result.social_media == "covered"
    assert result.platforms == ["instagram", "facebook"]
    assert result.expires == "2027-06-30"
    assert result.revocation_clause is True
    assert result.signed is False


def test_a_spanish_refusal_is_not_covered(tmp_path):
    result = judge(tmp_path, "No autorizo la publicación de mis fotografías en redes sociales.")
    assert result.social_media == "not_covered"


def test_spanish_de_identified_only(tmp_path):
    result = judge(tmp_path, "Autorizo la publicación de mis fotos en redes sociales sin mostrar mi rostro.")
    assert result.social_media == "covered"
    assert result.identifiable == "deidentified_only"


# ------------------------------------------------------------------- zero false "covered" battery

NEVER_COVERED = [
    "I authorize the clinic to take photographs for my chart, and I follow the clinic on Instagram.",
    "The clinic will not post your photographs on social media without your written consent.",
    "I agree not to post photos of other patients on social media.",
    "I authorize photographs for my record.\nSocial media: No",
    "I understand the clinic may post photographs on social media only with a separate signed authorization.",
    "I authorize the use of my photographs for teaching. Social media use requires a separate form.",
    "Please tick the uses you DO NOT consent to:\n☒ Social media\n☐ Brochures",
    "Optional uses (not required for treatment):\n☒ Social media\n☐ Website",
    "I consent to treatment. I authorize release of photographs to my insurer. The clinic's Instagram is @clinic.",
    "I authorize the clinic to use my photographs internally; social media posting is prohibited.",
    "I hereby release the clinic from liability for photographs posted on social media by other patients.",
    "I authorize posting on social media: ☐ Yes ☒ No",
    "I consent to the use of my photographs on social media:\n☐ Yes\n☒ No",
    "I authorise the clinic to keep my photographs. I do not wish them to be posted online, including social media.",
    "I agree that photographs may be used for education, excluding social media.",
    "Autorizo la toma de fotografías para mi historia clínica. No se publicarán en redes sociales.",
    "Autorizo el uso de mis fotografías en la página web, pero no en redes sociales.",
    "If I tick this box, I authorize posting on social media. ☐",
    "Have you ever agreed to let another clinic post your photos on Instagram? ☒ Yes ☐ No",
    "Did your previous clinic post your photos on Instagram? ☒ Yes ☐ No",
    "__NO__ I consent to the clinic sharing my photographs on social media.",
    "I authorize the clinic to post my photographs on Instagram. Initials: N/A",
    "The clinic may post my photographs on Instagram once I confirm by email.",
    "I no longer consent to my photographs being used on Instagram.",
    "My photographs must not be posted on social media unless my face is hidden.",
    "Team members may share patient images on the clinic's Instagram only when a signed release is on file.",
]


@pytest.mark.parametrize("text", NEVER_COVERED)
def test_wording_that_does_not_grant_social_media_is_never_covered(tmp_path, text):
    assert judge(tmp_path, text).social_media != "covered"


@pytest.mark.parametrize("text, platforms", [
    ("I give permission for my photographs to be posted on the clinic's Instagram account.", ["instagram"]),
    ("I hereby grant the clinic permission to use my images on social media.", []),
    ("By signing, I consent to the publication of my photographs on Facebook and Instagram.",
     ["instagram", "facebook"]),
    ("The undersigned authorizes the clinic to share before-and-after photos on social media.", []),
    ("Doy mi consentimiento para que la clínica publique mis fotos en redes sociales.", []),
    ("I allow the clinic to upload videos of my procedure to TikTok.", ["tiktok"]),
])
def test_explicit_grants_in_other_words_are_covered(tmp_path, text, platforms):
    result = judge(tmp_path, text)
    assert result.social_media == "covered"
    assert result.platforms == platforms


# ------------------------------------------------------------------- reasons say what was found

@pytest.mark.parametrize("text, reason", [
    ("I authorize the clinic to use my photographs on social media, except TikTok, which I do not authorize.",
     "grants social media except TikTok"),
    ("I consent to the use of my photos on social media (Instagram, Facebook).",
     "grants social media on Instagram and Facebook only"),
    ("The clinic may use my photos on social media only if my face is not visible.",
     "grants social media, on the condition that the patient cannot be recognised"),
    ("I authorize use of my photos on social media only after I have approved each image.",
     "social media is granted only on a condition a person must check"),
    ("I hereby revoke my consent for the use of my photographs on social media.",
     "the document withdraws a consent (a revocation): it grants nothing"),
    ("How did you hear about us?\n☒ Instagram\n☐ Facebook", "nothing in the document grants social-media use"),
])
def test_the_reason_names_what_was_found(tmp_path, text, reason):
    assert reason in judge(tmp_path, text).reasons


def test_an_exception_is_quoted_as_such_and_never_called_a_refusal_of_social_media(tmp_path):
    result = judge(tmp_path, "I authorize the clinic to use my photographs on social media, except TikTok, "
                             "which I do not authorize.")
    assert result.social_media == "covered" and result.excluded_platforms == ["tiktok"]
    assert quotes(result, "exception") and not quotes(result, "denial")
    assert "the document refuses social-media use" not in result.reasons
