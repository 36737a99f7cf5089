"""Neural architecture search on a small cell search space: the space and its networks
(``space``), the precomputed table of every architecture's accuracy (``benchmark``), search
strategies that query it (``strategies``), and differentiable search (``darts``)."""
