# SPDX-License-Identifier: MIT
# accelbench chart template: roofline (plots/roofline.gp). Attainable FLOP rate against
# arithmetic intensity, log-log: each roof is min(bandwidth * intensity, compute peak); measured
# points are the results whose FLOP and byte counts are known. accelbench fills in the @...@ parts.
@HEADER@
@STYLE@
set title chart_title noenhanced
set xlabel "arithmetic intensity (FLOP/byte)"
set ylabel y_label noenhanced
set logscale xy 10
set format x "%g"
set format y "%g"
set key below left vertical maxrows 4
min(a, b) = a < b ? a : b
@SETUP@
do for [fmt in formats] {
    if (fmt eq "png") { eval term_png } else { eval term_svg }
    set output name.".".fmt
    @PLOT@
}
