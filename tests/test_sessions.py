"""Issue 6 C10: logout, a password change and deactivation end every session of that user."""

import pytest


@pytest.fixture
def lone_app(make_app, sqlite_url, tmp_path):
    """Not named ``app``: pytest-flask pushes one request context for a test using ``app``, and
    every client of the test then shares Flask-Login's cached user on ``g``, hiding what is tested."""
    return make_app(sqlite_url, tmp_path)


def copy_cookies(source, target):
    for cookie in source._cookies.values():
        target.set_cookie(cookie.key, cookie.value, domain=cookie.domain, path=cookie.path)


@pytest.fixture
def user(add_user, lone_app):
    return add_user(lone_app, "ana@example.com", admin=False)


def signed_in(lone_app, email, password, remember=False):
    client = lone_app.test_client()
    response = client.post("/login", data={"email": email, "password": password,
                                           **({"remember": "y"} if remember else {})})
    assert response.status_code == 302
    return client


def works(lone_app, client) -> bool:
    return client.get("/incidents").status_code == 200


def test_a_session_cookie_copied_before_logout_no_longer_works(lone_app, user):
    client = signed_in(lone_app, *user)
    thief = lone_app.test_client()
    copy_cookies(client, thief)
    assert works(lone_app, thief)
    client.post("/logout")
    assert not works(lone_app, thief)


def test_remember_me_cookies_differ_per_login_and_die_at_logout(lone_app, user):
    first = signed_in(lone_app, *user, remember=True)
    second = signed_in(lone_app, *user, remember=True)
    one, two = (c.get_cookie("remember_token") for c in (first, second))
    assert one.value != two.value
    only_remember = lone_app.test_client()
    only_remember.set_cookie("remember_token", one.value)
    assert works(lone_app, only_remember)
    first.post("/logout")
    again = lone_app.test_client()
    again.set_cookie("remember_token", one.value)
    assert not works(lone_app, again)
    assert works(lone_app, second)  # another device stays signed in after a plain logout


def test_own_password_change_ends_the_other_sessions(lone_app, user):
    phone = signed_in(lone_app, *user)
    laptop = signed_in(lone_app, *user, remember=True)
    response = laptop.post("/settings/password", data={"current": user[1], "password": "new password 1",
                                                       "confirm": "new password 1"})
    assert response.status_code == 302
    assert works(lone_app, laptop)  # the browser that changed it stays signed in
    assert not works(lone_app, phone)
    assert signed_in(lone_app, user[0], "new password 1")


def test_own_password_change_needs_the_current_password(lone_app, user):
    client = signed_in(lone_app, *user)
    response = client.post("/settings/password", data={"current": "wrong", "password": "new password 1",
                                                       "confirm": "new password 1"})
    assert response.status_code == 422 and "current password" in response.get_data(as_text=True).lower()


def test_sign_out_everywhere(lone_app, user):
    phone = signed_in(lone_app, *user)
    laptop = signed_in(lone_app, *user)
    laptop.post("/settings/sign-out-everywhere")
    assert not works(lone_app, phone) and not works(lone_app, laptop)


def test_admin_password_reset_and_deactivation_end_the_users_sessions(add_user, setup_for, sign_in, lone_app, user):
    victim = signed_in(lone_app, *user)
    admin = lone_app.test_client()
    sign_in(admin, *add_user(lone_app))
    user_id = setup_for(lone_app).query("SELECT id FROM users WHERE email = 'ana@example.com'")[0][0]
    admin.post(f"/users/{user_id}/password", data={"password": "reset password"})
    assert not works(lone_app, victim)
    victim = signed_in(lone_app, user[0], "reset password")
    admin.post(f"/users/{user_id}/active")
    assert not works(lone_app, victim)
