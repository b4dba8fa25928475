"""`python -m bench`: run every benchmark and print its numbers (nothing is asserted)."""

from bench import brushes, cli_start, official, painter, sae, spade_render, stylize, train_spade, translate

if __name__ == "__main__":
    cli_start.main()
    spade_render.main()
    train_spade.main()
    painter.main()
    sae.main()
    translate.main()
    stylize.main()
    brushes.main()
    official.main()
