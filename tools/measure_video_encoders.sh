#!/usr/bin/env bash
# The encoder measurement of sinks/README.md ("Video: which encoder"): real zoom frames
# (the notebook's stack, levels 0, 50, ..., 5950 at WxH, magma, written losslessly by the
# video sink's `write_video` example), then each encoder fed the same raw RGB through a pipe as
# the sink feeds it; wall and CPU time, size, and PSNR/SSIM (ffmpeg's psnr and ssim filters, in
# RGB, frames paired by index: WebM's millisecond timestamps would otherwise pair some frames
# with their neighbours) against the source.
#
#   bash tools/measure_video_encoders.sh [WIDTH HEIGHT]    # default 960 540
set -euo pipefail
cd "$(dirname "$0")/.."
W="${1:-960}"; H="${2:-540}"; N=120; FPS=30
OUT="${OUT:-target/video-measure}"
mkdir -p "$OUT"
cargo build --quiet --locked --profile test -p zoomstack-sinks --example write_video
TARGET="${CARGO_TARGET_DIR:-target}"
"$TARGET/debug/examples/write_video" "$OUT/src.mkv" "$W" "$H" 0 50 "$N" lossless=true fps=$FPS
ffmpeg -v error -y -i "$OUT/src.mkv" -f rawvideo -pix_fmt rgb24 "$OUT/src.rgb"
RAW=(-f rawvideo -pix_fmt rgb24 -video_size "${W}x${H}" -framerate "$FPS")
YUV=(-vf "scale=out_color_matrix=bt709:out_range=tv,format=yuv420p" -colorspace bt709
     -color_primaries bt709 -color_trc bt709 -color_range tv)

run() { # name ext args...
  local name="$1" ext="$2"; shift 2
  local f="$OUT/$name.$ext" wall user sys
  f="${f// /_}"
  /usr/bin/time -f "%e %U %S" -o "$OUT/time" ffmpeg -v error -y "${RAW[@]}" -i "$OUT/src.rgb" "$@" "$f"
  read -r wall user sys < "$OUT/time"
  local size; size=$(stat -c %s "$f")
  local cmp
  cmp=$(ffmpeg -v info -nostats -i "$f" "${RAW[@]}" -i "$OUT/src.rgb" -lavfi \
    "[0:v]settb=1/$FPS,setpts=N,format=gbrp[a];[1:v]settb=1/$FPS,setpts=N,format=gbrp[b];[a]split[a1][a2];[b]split[b1][b2];[a1][b1]psnr;[a2][b2]ssim" \
    -f null - 2>&1 | grep -E "PSNR|SSIM")
  local psnr ssim
  psnr=$(grep -o "average:[0-9.inf]*" <<<"$cmp" | head -1 | cut -d: -f2)
  ssim=$(grep -o "All:[0-9.]*" <<<"$cmp" | head -1 | cut -d: -f2)
  printf "| %s | %.1f | %.1f | %.0f | %.2f | %s | %s |\n" "$name" \
    "$(bc -l <<<"$N / $wall")" "$(bc -l <<<"$user + $sys")" "$(bc -l <<<"$size / 1024")" \
    "$(bc -l <<<"$size * 8 / 1000 / ($N / $FPS)")" "$psnr" "$ssim"
}

echo "| encoder, settings | fps (wall) | CPU s | KiB | kbit/s | PSNR dB (RGB) | SSIM |"
echo "|---|---|---|---|---|---|---|"
run "libx264 medium crf18" mp4 "${YUV[@]}" -c:v libx264 -preset medium -crf 18
run "libx264 veryfast crf18" mp4 "${YUV[@]}" -c:v libx264 -preset veryfast -crf 18
run "libx264 medium crf23" mp4 "${YUV[@]}" -c:v libx264 -preset medium -crf 23
run "libx264 veryfast crf23" mp4 "${YUV[@]}" -c:v libx264 -preset veryfast -crf 23
run "libvpx-vp9 cpu-used 5 crf31" webm "${YUV[@]}" -c:v libvpx-vp9 -deadline good -cpu-used 5 -row-mt 1 -crf 31 -b:v 0
run "libvpx-vp9 realtime cpu-used 8 crf31" webm "${YUV[@]}" -c:v libvpx-vp9 -deadline realtime -cpu-used 8 -row-mt 1 -crf 31 -b:v 0
run "libsvtav1 preset 8 crf30" webm "${YUV[@]}" -c:v libsvtav1 -preset 8 -crf 30
run "libsvtav1 preset 10 crf35" webm "${YUV[@]}" -c:v libsvtav1 -preset 10 -crf 35
run "libaom-av1 cpu-used 8 crf30" webm "${YUV[@]}" -c:v libaom-av1 -cpu-used 8 -row-mt 1 -crf 30
run "librav1e (rav1e) speed 10" webm "${YUV[@]}" -c:v librav1e -speed 10
for kbps in 1500; do
  run "libx264 medium ${kbps}k" mp4 "${YUV[@]}" -c:v libx264 -preset medium -b:v ${kbps}k
  run "libvpx-vp9 cpu-used 5 ${kbps}k" webm "${YUV[@]}" -c:v libvpx-vp9 -deadline good -cpu-used 5 -row-mt 1 -b:v ${kbps}k
  run "libsvtav1 preset 8 ${kbps}k" webm "${YUV[@]}" -c:v libsvtav1 -preset 8 -b:v ${kbps}k
done
