#!/usr/bin/env bash
# Builds a hermetic local apt repository of tiny test packages, for end-to-end tests and demos.
#
#   apt-repo.sh create DIR PREFIX   build packages PREFIX-hello and PREFIX-security (versions 1.0
#                                   and 2.0), serve 2.0 from DIR/repo, install 1.0 into the system
#                                   with dpkg, and write DIR/apt.conf
#   apt-repo.sh cleanup DIR PREFIX  purge the PREFIX-* packages and delete DIR
#
# Point apt at the repository with `APT_CONFIG=DIR/apt.conf`: that file replaces the source list,
# the package lists and the download cache with folders under DIR, so /etc/apt is never changed.
# The real dpkg database stays in use, so installs are real and `dpkg-query` sees them.
#
# PREFIX-hello 2.0 comes from suite `sysmanage-test` (a regular update) and PREFIX-security 2.0
# from suite `sysmanage-test-security` (a security update, as Debian names its security suites).
# Needs root, dpkg-deb and apt-ftparchive (Debian packages dpkg and apt-utils).
set -euo pipefail

usage() {
  echo "usage: $0 create|cleanup DIR PREFIX" >&2
  exit 2
}

[[ $# -eq 3 ]] || usage
action=$1
dir=$2
prefix=$3
if [[ ! $prefix =~ ^[a-z0-9][a-z0-9-]{1,40}$ ]]; then
  echo "invalid PREFIX '$prefix': use lower-case letters, digits and '-' (a Debian package name)" >&2
  exit 2
fi
packages=("$prefix-hello" "$prefix-security")

build_package() {
  local name=$1 version=$2 out=$3
  local root
  root=$(mktemp -d)
  mkdir -p "$root/DEBIAN" "$root/usr/share/doc/$name"
  cat >"$root/DEBIAN/control" <<CONTROL
Package: $name
Version: $version
Architecture: all
Maintainer: SysManage tests <tests@sysmanage.invalid>
Section: misc
Priority: optional
Description: SysManage end-to-end test package
 Contains one text file. Safe to remove.
CONTROL
  echo "$name $version" >"$root/usr/share/doc/$name/VERSION"
  dpkg-deb --root-owner-group --build "$root" "$out" >/dev/null
  rm -rf "$root"
}

# Writes Packages and Release for one flat repository folder.
index_repository() {
  local folder=$1 suite=$2
  (
    cd "$folder"
    apt-ftparchive packages . >Packages
    apt-ftparchive \
      -o APT::FTPArchive::Release::Origin=SysManageTest \
      -o APT::FTPArchive::Release::Label=SysManageTest \
      -o APT::FTPArchive::Release::Suite="$suite" \
      -o APT::FTPArchive::Release::Codename="$suite" \
      release . >Release
  )
}

create() {
  dir=$(realpath -m "$dir")
  mkdir -p "$dir"/{debs,repo/updates,repo/security,lists/partial,cache/archives/partial,sources.list.d,preferences.d}
  build_package "${packages[0]}" 1.0 "$dir/debs/${packages[0]}_1.0_all.deb"
  build_package "${packages[0]}" 2.0 "$dir/repo/updates/${packages[0]}_2.0_all.deb"
  build_package "${packages[1]}" 1.0 "$dir/debs/${packages[1]}_1.0_all.deb"
  build_package "${packages[1]}" 2.0 "$dir/repo/security/${packages[1]}_2.0_all.deb"
  index_repository "$dir/repo/updates" sysmanage-test
  index_repository "$dir/repo/security" sysmanage-test-security

  cat >"$dir/sources.list" <<SOURCES
deb [trusted=yes] file:$dir/repo/updates ./
deb [trusted=yes] file:$dir/repo/security ./
SOURCES
  cat >"$dir/apt.conf" <<CONF
Dir::Etc::SourceList "$dir/sources.list";
Dir::Etc::SourceParts "$dir/sources.list.d";
Dir::Etc::Preferences "$dir/preferences";
Dir::Etc::PreferencesParts "$dir/preferences.d";
Dir::State::Lists "$dir/lists";
Dir::Cache "$dir/cache";
CONF
  # The file: repository is read by apt's unprivileged download user, so the folders must be
  # readable by others.
  chmod -R a+rX "$dir"

  APT_CONFIG="$dir/apt.conf" apt-get update -qq
  # apt-get rather than dpkg -i, because it waits for the dpkg lock that a parallel test may hold.
  APT_CONFIG="$dir/apt.conf" DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    -o DPkg::Lock::Timeout=300 \
    "$dir/debs/${packages[0]}_1.0_all.deb" "$dir/debs/${packages[1]}_1.0_all.deb" >/dev/null
}

cleanup() {
  local installed=()
  for name in "${packages[@]}"; do
    if dpkg-query -W -f='${Status}' "$name" 2>/dev/null | grep -q installed; then
      apt-mark unhold "$name" >/dev/null 2>&1 || true
      installed+=("$name")
    fi
  done
  if ((${#installed[@]})); then
    DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq -o DPkg::Lock::Timeout=300 \
      "${installed[@]}" >/dev/null
  fi
  rm -rf "$dir"
}

case $action in
  create) create ;;
  cleanup) cleanup ;;
  *) usage ;;
esac
