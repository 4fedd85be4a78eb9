# SPDX-License-Identifier: MIT
# accelbench chart template: one metric against a swept parameter (plots/sweep.gp), one line per
# series, error bars from the smallest to the largest sample. accelbench fills in the @...@ parts.
@HEADER@
@STYLE@
set title chart_title noenhanced
set xlabel x_label noenhanced
set ylabel y_label noenhanced
set key below left vertical maxrows 6
set yrange [0:*]
@SETUP@
do for [fmt in formats] {
    if (fmt eq "png") { eval term_png } else { eval term_svg }
    set output name.".".fmt
    plot for [i=0:nseries-1] data index i using 1:2:3:4 with yerrorlines title columnheader(1)
}
