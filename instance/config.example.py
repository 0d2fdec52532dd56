# Copy to instance/config.py and change what you need. Environment variables
# (DATABASE_URL, SECRET_KEY, CALLGOOSE_<NAME>) override what is set here.

# DATABASE_URL = "postgresql://callgoose@localhost/callgoose"
# DUPLICATE_WINDOW_SECONDS = 300
# MAX_BODY_BYTES = 1048576
# SPLIT_MAX_BODY_BYTES = 16777216
# SPLIT_MAX_ELEMENTS = 10000
# BASE_URL = "https://alerts.example.com"
# HOST = "127.0.0.1"
# PORT = 8000
# THREADS = 8
