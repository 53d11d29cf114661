# Shared by infra/up.sh and .ci/run: checks and installs what the platform needs on this
# machine. Source it from the repository root; each function is idempotent and fast when
# nothing is missing.

say() { printf '\033[1m==>\033[0m %s\n' "$*"; }
die() { printf '\033[31merror:\033[0m %s\n' "$*" >&2; exit 1; }

# Node.js 20 or newer (the workspace runs TypeScript sources through Node's module hooks).
require_node() {
  command -v node >/dev/null 2>&1 || die "Node.js is not installed. Install Node.js 20 or newer (https://nodejs.org or your distribution's nodejs package), then run this again."
  local major
  major="$(node -p 'process.versions.node.split(".")[0]')"
  [ "$major" -ge 20 ] || die "Node.js $(node -v) is too old: Palette needs 20 or newer."
  command -v npm >/dev/null 2>&1 || die "npm is not installed (it ships with Node.js)."
}

# Installs node_modules when missing or older than package-lock.json (npm records the
# installed tree in node_modules/.package-lock.json). Not `npm ci`: this registry lists no
# other-platform optional binaries (@swc/core-*, @nx/nx-*), so every lock file made here lacks
# them and `npm ci` rejects it as out of sync; `npm install` keeps the lock's versions.
install_node_modules() {
  if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    say "installing npm dependencies"
    npm install --no-audit --no-fund
  fi
}

# Runs a command as root: directly, or through sudo when it works without a password prompt.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo "$@"
  else return 1
  fi
}

# Installs a Debian package that provides `command` unless the command already exists.
require_apt_command() {
  local command="$1" package="$2" why="$3"
  command -v "$command" >/dev/null 2>&1 && return 0
  command -v apt-get >/dev/null 2>&1 || die "$command is missing and this is not a Debian/Ubuntu system: install the package that provides it ($package), then run this again. ($why)"
  say "installing $package from Debian's packages ($why)"
  if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq \
    || ! as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$package" >/dev/null; then
    die "could not install $package: apt-get needs root. Run 'sudo apt-get install -y $package' yourself, then run this again."
  fi
  command -v "$command" >/dev/null 2>&1 || die "$package was installed but $command is still not on PATH."
}

# The Prisma client is generated from prisma/schema.prisma (offline; see apps/registry-api).
generate_prisma_client() {
  say "generating the Prisma client"
  npm run --silent generate -w apps/registry-api
}

# The admin console (apps/console) is static files that registry-api serves at /console:
# build them when they are missing (CONSOLE_DIST_DIR points the registry elsewhere).
build_console() {
  if [ ! -f apps/console/dist/index.html ]; then
    say "building the admin console"
    npm run --silent build -w apps/console
  fi
}
