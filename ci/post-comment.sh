#!/usr/bin/env bash
# Posts BODY_FILE as the pull request's manifest-diff comment, editing the
# comment an earlier run posted (found by the marker on its first line)
# instead of adding another. Without changes and without an earlier comment
# it posts nothing. Needs GH_TOKEN, REPO (owner/name), PR (number), CHANGED.
#
#   ci/post-comment.sh BODY_FILE
set -euo pipefail
body="$1"
marker="$(head -n 1 "$body")"
existing="$(gh api --paginate "repos/$REPO/issues/$PR/comments" \
  --jq ".[] | select(.body | startswith(\"$marker\")) | .id" | tail -n 1)"
if [ -n "$existing" ]; then
  gh api --method PATCH "repos/$REPO/issues/comments/$existing" -F "body=@$body" >/dev/null
  echo "updated comment $existing"
elif [ "$CHANGED" = true ]; then
  gh api --method POST "repos/$REPO/issues/$PR/comments" -F "body=@$body" >/dev/null
  echo "posted a comment"
else
  echo "no manifest changes and no earlier comment: nothing posted"
fi
