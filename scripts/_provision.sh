# Provision what the test suite needs beyond Python packages.  Sourced by
# scripts/test.  Later features add services here (databases, SoftHSM2,
# Chromium); each step must work on a fresh Debian machine as root.
#
# Database servers: the store tests run on SQLite, PostgreSQL and
# MySQL/MariaDB (tests/db_fixtures.py).  A server that is installed but not
# running is started here; nothing is installed.  A server that is still not
# reachable skips its tests locally and fails them when CI=true.

# Seconds to wait for a server we started to accept connections.
KMSD_DB_START_WAIT="${KMSD_DB_START_WAIT:-30}"

_kmsd_wait_for() {  # _kmsd_wait_for NAME COMMAND...: poll until COMMAND succeeds (bounded)
    local name="$1" i
    shift
    for ((i = 0; i < KMSD_DB_START_WAIT * 2; i++)); do
        if "$@" >/dev/null 2>&1; then return 0; fi
        sleep 0.5
    done
    echo "== $name did not accept connections within ${KMSD_DB_START_WAIT}s" >&2
    return 1
}

_kmsd_pg_up() { pg_isready -q -h 127.0.0.1 -p 5432 >/dev/null 2>&1; }
_kmsd_mariadb_up() {
    local admin
    admin="$(command -v mariadb-admin || command -v mysqladmin)"
    "$admin" --protocol=tcp -h 127.0.0.1 -P 3306 -u root --connect-timeout=2 ping >/dev/null 2>&1
}

_kmsd_start_databases() {
    local available=("sqlite") version
    # PostgreSQL (Debian's cluster layout: /etc/postgresql/VERSION/main).
    if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
        if ! _kmsd_pg_up; then
            version="$(ls /etc/postgresql | sort -V | tail -n 1)"
            echo "== starting PostgreSQL $version"
            pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
            _kmsd_wait_for PostgreSQL _kmsd_pg_up || true
        fi
        if _kmsd_pg_up; then available+=("postgresql"); fi
    fi
    # MariaDB (or MySQL under the same daemon path).
    if [ -x /usr/sbin/mariadbd ]; then
        if ! _kmsd_mariadb_up; then
            echo "== starting MariaDB"
            # The socket directory lives on tmpfs and is gone after a reboot.
            if [ ! -d /run/mysqld ] && id mysql >/dev/null 2>&1; then
                mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld
            fi
            start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd || true
            _kmsd_wait_for MariaDB _kmsd_mariadb_up || true
        fi
        if _kmsd_mariadb_up; then available+=("mysql"); fi
    fi
    echo "== database servers available: ${available[*]}"
    if [ "${CI:-}" = "true" ] && [ "${#available[@]}" -lt 3 ]; then
        echo "== CI=true: the store tests of a missing server will fail, not skip" >&2
    fi
}

_kmsd_start_databases

# Chromium for the browser tests (tests/test_ui_browser.py): Debian's package,
# driven by Playwright for Python, because `playwright install` cannot download
# browsers here.  Installed once when missing (root and apt only); otherwise the
# browser tests skip.
_kmsd_chromium() {
    if [ -x /usr/bin/chromium ]; then return 0; fi
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "== installing chromium and fonts (browser tests)"
        local packages=(chromium fonts-liberation fonts-dejavu-core)
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${packages[@]}" \
            || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${packages[@]}"; } \
            || echo "== chromium could not be installed: the browser tests will skip" >&2
    else
        echo "== chromium is missing and cannot be installed here: the browser tests will skip" >&2
    fi
}

_kmsd_chromium
