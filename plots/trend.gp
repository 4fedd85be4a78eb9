# SPDX-License-Identifier: MIT
# accelbench chart template: a metric over time from the history (plots/trend.gp), one line per
# series, error bars from the smallest to the largest sample, dashed lines at detected step
# changes. accelbench fills in the @...@ parts.
@HEADER@
@STYLE@
set title chart_title noenhanced
set ylabel y_label noenhanced
set xdata time
set timefmt "%s"
set format x "%Y-%m-%d"
set xtics rotate by -30 left font ",9"
set key below left vertical maxrows 8
set yrange [0:*]
@SETUP@
do for [fmt in formats] {
    if (fmt eq "png") { eval term_png } else { eval term_svg }
    set output name.".".fmt
    plot for [i=0:nseries-1] data index i using 1:2:3:4 with yerrorlines title columnheader(1)
}
