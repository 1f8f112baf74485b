"""Published values printed beside ours, so a reader sees at once whether the warehouse
reproduces the paper."""

# Published values the park2023 profile is calibrated to (Park et al., Nat Med 2023, abstract
# and Figure 2/3): printed beside ours so a reader sees at once whether they agree.
PARK2023_PUBLISHED = {
    ("CRS", "any"): "74%",
    ("CRS", "severe"): "6.4%",
    ("ICANS", "any"): "19%",
    ("ICANS", "severe"): "9.7%",
    ("ORR",): "77%",
    ("CR",): "65%",
}
