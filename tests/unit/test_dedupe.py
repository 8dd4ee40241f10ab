"""Accounts of one human grouped deterministically by shared email or phone (pure)."""

from __future__ import annotations

from incident.domain.dedupe import accounts_of, contact_key, group_people, normal_contact


def keys(*pairs: tuple[str, str]) -> list[tuple[str, str]]:
    out = []
    for kind, value in pairs:
        key = contact_key(kind, value)
        assert key is not None
        out.append((kind, key))
    return out


def test_same_email_in_two_spellings_is_one_key() -> None:
    """Domain case and IDNA form do not split a mailbox; the local part's case does."""
    assert contact_key("email", "a@X.org") == contact_key("email", "a@x.ORG")
    assert contact_key("email", "a@xn--strae-oqa.de") == contact_key("email", "a@straße.de")
    assert contact_key("email", "A@x.org") != contact_key("email", "a@x.org")
    assert normal_contact("phone", "+31 6 1234-5678") == "+31612345678"
    assert contact_key("postal", "Damrak 1") is None


def test_groups_are_transitive_and_the_representative_is_the_smallest_id() -> None:
    found = group_people(
        {
            "p3": keys(("email", "a@x.org")),
            "p2": keys(("email", "b@x.org"), ("phone", "+31612345678")),
            "p1": keys(("phone", "+31612345678"), ("email", "a@x.org")),
            "p4": keys(("email", "alone@x.org")),
        }
    )
    assert len(found) == 1
    assert found[0].representative == "p1" and found[0].members == ("p1", "p2", "p3")
    assert found[0].kinds == ("email", "phone")


def test_grouping_does_not_depend_on_the_order_people_are_read() -> None:
    a = {"b": keys(("email", "s@x.org")), "a": keys(("email", "s@x.org"))}
    b = {"a": keys(("email", "s@x.org")), "b": keys(("email", "s@x.org"))}
    assert group_people(a) == group_people(b)


def test_the_keys_are_digests_not_contact_values() -> None:
    key = contact_key("email", "anna@example.org")
    assert key is not None and "anna" not in key and "example" not in key


def test_accounts_of_reads_the_list_stored_on_the_representative() -> None:
    assert accounts_of({"accounts": "p1\np2"}) == ("p1", "p2")
    assert accounts_of({"email": "missing"}) == ()
