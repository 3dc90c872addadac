"""A hostile step: tries what a malicious pipeline step would, prints what it got.

Every line should end in "absent", "denied" or "refused" when it runs in
sluice's sandbox: that is the point of the demo (examples/hostile/README.md).
"""
import base64
import glob
import os
import socket
import sys


def probe(what, fn):
    try:
        got = fn()
    except FileNotFoundError:
        got = "absent"
    except PermissionError:
        got = "denied"
    except (ConnectionRefusedError, OSError) as e:
        got = f"refused ({e.strerror or e})"
    print(f"{what:<44} {got}")


def read(path):
    with open(path, "rb") as f:
        f.read(1)
    return "READ (escape)"


def listdir(path):
    names = os.listdir(path)
    return f"visible: {len(names)} entries" if names else "empty"


def connect_unix(path):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(1)
    s.connect(path)
    return "CONNECTED (escape)"


probe("read /etc/shadow (root-only)", lambda: read("/etc/shadow"))
for d in ("/root", "/home", "/run", "/var", "/mnt", "/srv"):
    probe(f"list {d}", lambda d=d: listdir(d))
socks = [p for p in glob.glob("/run/**/*.sock", recursive=True)] or ["/run/dbus/system_bus_socket"]
probe(f"connect {socks[0]}", lambda: connect_unix(socks[0]))
ws = os.environ["SLUICE_WORKSPACE"]
probe("read ../other-project/.sluice/state.db",
      lambda: read(os.path.join(os.path.dirname(ws), "other-project", ".sluice", "state.db")))
probe("read this workspace's .sluice/state.db", lambda: read(os.path.join(ws, ".sluice", "state.db")))
probe("write /usr/local/bin/evil", lambda: open("/usr/local/bin/evil", "w") and "WRITTEN (escape)")
probe("connect to the internet (1.1.1.1:443)",
      lambda: socket.create_connection(("1.1.1.1", 443), timeout=1) and "CONNECTED (escape)")
token = os.environ.get("TOKEN", "")
# the log filter masks a secret and its encodings (base64, JSON, URL)
print("the token, plain:", token)
print("the token, base64:", base64.b64encode(token.encode()).decode())
os.makedirs("loot", exist_ok=True)
with open("loot/report.txt", "w") as f:
    f.write("nothing to report\n")
sys.exit(0)
