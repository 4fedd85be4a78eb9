# SPDX-License-Identifier: MIT
# accelbench chart template: a source x destination matrix as a heatmap (plots/heatmap.gp), one
# cell per ordered pair, the median in the cell; NaN where the pair has no passing result.
# accelbench fills in the @...@ parts.
@HEADER@
@STYLE@
set title chart_title noenhanced
set xlabel x_label noenhanced
set ylabel y_label noenhanced
set cblabel cb_label noenhanced offset 2,0
set datafile missing "NaN"
set palette defined (0 "#f7fbff", 0.5 "#6baed6", 1 "#08306b")
set xtics noenhanced rotate by 30 right
set ytics noenhanced
set yrange [] reverse
set cbrange [0:*]
set tics scale 0
set key off
@SETUP@
do for [fmt in formats] {
    if (fmt eq "png") { eval term_png } else { eval term_svg }
    set output name.".".fmt
    plot data matrix rowheaders columnheaders using 1:2:3 with image, \
         data matrix rowheaders columnheaders using 1:2:(($3 == $3) ? sprintf("%.3g", $3) : "-") with labels
}
