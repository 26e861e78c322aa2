#!/bin/sh
# /usr/local/lib/certplan/apply-and-commit.sh: the host's job when state/ lives in git.
# Pull what was reviewed, apply it, then commit state/ back (also after a partial
# failure: the certificates that succeeded are recorded), so that the next pull
# request plans against the truth. Needs a deploy key that may push to the branch.
# Installed by certplan.service.d/commit-state.conf; with a shared state backend
# ([state] backend = "postgres") none of this is needed: keep the plain unit.
set -u
cd /srv/ops-certs || exit 1
git pull --ff-only --quiet || exit 1
/usr/local/bin/certplan -C /srv/ops-certs apply --auto-approve --lock-timeout 900
code=$?
if [ -n "$(git status --porcelain -- state/)" ]; then
    git add -- state/
    git commit --quiet -m "state: certplan apply on $(hostname)" -- state/
    git push --quiet || { echo "certplan: could not push state/" >&2; [ "$code" -ne 0 ] || code=1; }
fi
exit "$code"
