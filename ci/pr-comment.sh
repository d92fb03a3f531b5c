#!/usr/bin/env bash
# Builds the body of the pull request's manifest-diff comment on stdout.
#
#   ci/pr-comment.sh DIFF_MD CHANGED [ARTIFACT_URL]
#
# DIFF_MD is `modelctl diff --base … --format markdown`; CHANGED is `true` when
# that diff exited 1. Without changes the body says so instead of carrying a
# diff. A diff longer than COMMENT_LIMIT bytes (default 60000, under GitHub's
# 65,536-character limit for a comment) is cut at a line boundary, any open
# code block (with the fence that opened it) and <details> closed, and
# ARTIFACT_URL (the full diff) linked.
# The first line is a marker the posting step finds the comment by.
set -euo pipefail
diff_md="$1"
changed="$2"
artifact_url="${3:-}"
limit="${COMMENT_LIMIT:-60000}"
marker='<!-- modelctl-manifest-diff -->'

echo "$marker"
if [ "$changed" != true ]; then
  echo "### modelctl diff"
  echo
  echo "No changes to generated manifests."
  exit 0
fi

size="$(wc -c <"$diff_md")"
if [ "$size" -le "$limit" ]; then
  cat "$diff_md"
  exit 0
fi

# Whole lines only: drop whatever follows the last newline within the limit.
cut="$(head -c "$limit" "$diff_md" | sed '$d')"
printf '%s\n' "$cut"
# The fence still open at the cut, as CommonMark reads it: a line of three or
# more backticks (up to three spaces in) opens a block unless its info string
# holds a backtick; only a line of at least as many backticks and nothing else
# closes it. `modelctl diff` opens a longer fence when the diff holds
# backticks, so the cut is closed with the fence it opened, not with three.
open_fence="$(printf '%s\n' "$cut" | awk '
  match($0, /^ ? ? ?```+/) {
    run = substr($0, RSTART, RLENGTH)
    sub(/^ */, "", run)
    rest = substr($0, RSTART + RLENGTH)
    if (open == "") {
      if (rest !~ /`/) open = run
    } else if (length(run) >= length(open) && rest ~ /^[ \t]*$/) {
      open = ""
    }
  }
  END { print open }')"
if [ -n "$open_fence" ]; then
  echo "$open_fence"
fi
opened="$(printf '%s\n' "$cut" | grep -c '^<details>' || true)"
closed="$(printf '%s\n' "$cut" | grep -c '^</details>' || true)"
for _ in $(seq 1 $((opened - closed))); do
  echo
  echo '</details>'
done
echo
echo "---"
if [ -n "$artifact_url" ]; then
  echo "The diff is cut here at ${limit} of ${size} bytes. The full diff: [manifest-diff]($artifact_url) (artifact of this run)."
else
  echo "The diff is cut here at ${limit} of ${size} bytes. The full diff is the \`manifest-diff\` artifact of this run."
fi
