# SPDX-License-Identifier: MIT
# accelbench chart template: headline figures as clustered bars (plots/bars.gp), one cluster per
# case, one bar per run and device. accelbench fills in the @...@ parts.
@HEADER@
@STYLE@
set title chart_title noenhanced
set ylabel y_label noenhanced
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set xtics rotate by 30 right noenhanced font ",9"
set key below left vertical maxrows 8
set yrange [0:*]
set lmargin 14
@SETUP@
do for [fmt in formats] {
    if (fmt eq "png") { eval term_png } else { eval term_svg }
    set output name.".".fmt
    plot for [i=2:ncols+1] data using i:xtic(1) title columnheader(i)
}
