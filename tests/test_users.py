"""User administration: admins only; never lock the team out."""

import pytest


@pytest.fixture
def admin(add_user, sign_in, app, client):
    sign_in(client, *add_user(app))
    return client


def test_admin_adds_a_responder_who_can_then_sign_in(admin, setup):
    page = admin.post("/users", data={"email": "Resp@Example.com", "role": "responder", "password": "long enough"})
    assert page.status_code == 302
    assert setup.query("SELECT email, role, active FROM users ORDER BY id")[1] == ("resp@example.com", "responder", 1)
    assert "resp@example.com" in admin.get("/users").get_data(as_text=True)


def test_add_user_errors_come_back_next_to_the_field(admin):
    response = admin.post("/users", data={"email": "admin@example.com", "role": "admin", "password": "long enough"})
    assert response.status_code == 422 and "exists already" in response.get_data(as_text=True)
    response = admin.post("/users", data={"email": "x@example.com", "role": "admin", "password": "short"})
    assert response.status_code == 422


def test_set_password_and_deactivate(add_user, app, admin, setup):
    add_user(app, "resp@example.com", admin=False, password="first password")
    admin.post("/users/2/password", data={"password": "second password"})
    admin.post("/users/2/active")
    assert setup.query("SELECT active FROM users WHERE id = 2") == [(0,)]
    admin.post("/users/2/active")
    assert setup.query("SELECT active FROM users WHERE id = 2") == [(1,)]
    from werkzeug.security import check_password_hash
    assert check_password_hash(setup.query("SELECT password_hash FROM users WHERE id = 2")[0][0], "second password")


def test_an_admin_cannot_deactivate_themselves(admin, setup):
    admin.post("/users/1/active")
    assert setup.query("SELECT active FROM users WHERE id = 1") == [(1,)]


def test_deactivated_users_cannot_sign_in(add_user, app, client, setup):
    add_user(app)
    email, password = add_user(app, "gone@example.com", admin=False, password="long enough")
    with app.app_context():
        from callgoose.extensions import db
        db.session.execute(db.text("UPDATE users SET active = false WHERE email = 'gone@example.com'"))
        db.session.commit()
    response = client.post("/login", data={"email": email, "password": password})
    assert response.status_code == 422


def test_responders_cannot_open_users(add_user, sign_in, app, client):
    add_user(app)
    sign_in(client, *add_user(app, "resp@example.com", admin=False))
    assert client.get("/users").status_code == 403
    assert client.post("/users", data={"email": "x@y.z", "role": "admin", "password": "long enough"}).status_code == 403
