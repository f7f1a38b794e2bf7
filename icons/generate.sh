#!/usr/bin/env bash
# Regenerates the app icons from source.svg (needs librsvg2-bin and imagemagick).
# Tauri wants RGBA PNGs; rsvg-convert writes RGBA, and PNG32: keeps it that way.
set -euo pipefail
cd "$(dirname "$0")"

CONVERT=/usr/bin/convert  # /usr/local/bin/convert may be a stand-in without ImageMagick
[ -x "$CONVERT" ] || CONVERT=convert

png() { # size output
  rsvg-convert -w "$1" -h "$1" source.svg -o "$2.tmp.png"
  "$CONVERT" "$2.tmp.png" -define png:color-type=6 "PNG32:$2"
  rm -f "$2.tmp.png"
}

png 32 32x32.png
png 128 128x128.png
png 256 128x128@2x.png
png 512 icon.png

ico_parts=()
for size in 16 24 32 48 64 128 256; do
  rsvg-convert -w "$size" -h "$size" source.svg -o "ico-$size.tmp.png"
  ico_parts+=("ico-$size.tmp.png")
done
"$CONVERT" "${ico_parts[@]}" icon.ico
rm -f ico-*.tmp.png

# The UI shows the same mark in its sidebar and as the page icon.
cp source.svg ../ui/public/app-icon.svg
