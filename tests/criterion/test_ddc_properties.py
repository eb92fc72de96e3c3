"""The paper's Eq. 10 in practice: optimising alpha under known + DDC supervision.

* On a colour ramp with known ends, a free alpha ends with |a_i - a_j| <= d(i, j) on every
  selected pair and the DDC loss at its lower bound (the mean colour distance of the pairs),
  i.e. the alpha ramp follows the colour ramp.
* On a soft edge, an alpha model (a logistic function of the colour) trained with the known
  loss alone collapses the transition to a step; with DDC added it keeps it soft.
"""

import torch

from alphafree_matting.criterion import NO_NEIGHBOUR, ddc_loss, known_loss, select_neighbours

WINDOW, LAMBDA = 5, 10.0


def colour_ramp(width):
    """1 x width strip, red from 0 to 1: consecutive pixels at colour distance 1/(width-1)."""
    image = torch.zeros(1, 3, 1, width)
    image[0, 0, 0] = torch.linspace(0, 1, width)
    return image


def test_free_alpha_on_colour_ramp_reaches_ddc_lower_bound_with_bounded_steps():
    width = 12
    image = colour_ramp(width)
    trimap = torch.full((1, 1, 1, width), 0.5)
    trimap[..., 0], trimap[..., -1] = 0.0, 1.0
    # Window 5 on a single row with excluded border: each pixel selects its in-row neighbours
    # within 2 columns, a symmetric relation, so sum_ij (a_i - a_j) = 0 and DDC >= mean d.
    options = dict(window=WINDOW, border="exclude")
    index, distance = select_neighbours(image, **options)
    filled = index != NO_NEIGHBOUR
    lower_bound = distance[filled].mean().item()

    torch.manual_seed(0)
    alpha = torch.nn.Parameter(0.5 + 0.1 * torch.randn(1, 1, 1, width))
    optimizer = torch.optim.Adam([alpha], lr=0.02)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=80, gamma=0.1)
    for _ in range(240):
        optimizer.zero_grad()
        ddc = ddc_loss(image, alpha, neighbours=(index, distance), **options)
        loss = known_loss(alpha, trimap) + LAMBDA * ddc
        loss.backward()
        optimizer.step()
        scheduler.step()

    alpha = alpha.detach()
    assert ddc_loss(image, alpha, **options).item() < lower_bound * (1 + 1e-3)
    # Eq. 10: on every selected pair the alpha step stays within the colour distance.
    radius = WINDOW // 2
    neighbour_column = (index.long() % WINDOW - radius) + torch.arange(width)
    neighbour_alpha = alpha[0, 0, 0][neighbour_column.clamp(0, width - 1)]
    steps = (alpha - neighbour_alpha).abs()
    assert torch.all(steps[filled] <= distance[filled] + 1e-3)
    torch.testing.assert_close(alpha[0, 0, 0], torch.linspace(0, 1, width), atol=5e-3, rtol=0)


def soft_edge(width=32, known=8):
    """1 x width strip, red 0 for `known` columns, a linear ramp to 1, 1 for `known` columns."""
    ramp = torch.linspace(0, 1, width - 2 * known)
    red = torch.cat([torch.zeros(known), ramp, torch.ones(known)])
    image = torch.zeros(1, 3, 1, width)
    image[0, 0, 0] = red
    trimap = torch.full((1, 1, 1, width), 0.5)
    trimap[..., :known], trimap[..., -known:] = 0.0, 1.0
    return image, trimap


def transition_width(alpha):
    """Columns whose alpha is strictly between 0.1 and 0.9."""
    row = alpha[0, 0, 0]
    return int(((row > 0.1) & (row < 0.9)).sum())


def largest_step(alpha):
    """Largest alpha difference between adjacent columns."""
    return alpha[0, 0, 0].diff().abs().max().item()


def logistic_alpha(image, log_scale, centre):
    return torch.sigmoid(log_scale.exp() * (image[:, :1] - centre))


def train_logistic_alpha(image, trimap, ddc_weight):
    """alpha = sigmoid(exp(log_scale) * (red - centre)), fitted by Adam; returns the alpha."""
    log_scale = torch.nn.Parameter(torch.tensor(1.0))
    centre = torch.nn.Parameter(torch.tensor(0.4))
    optimizer = torch.optim.Adam([log_scale, centre], lr=0.05)
    for _ in range(200):
        optimizer.zero_grad()
        alpha = logistic_alpha(image, log_scale, centre)
        loss = known_loss(alpha, trimap)
        if ddc_weight:
            loss = loss + ddc_weight * ddc_loss(image, alpha, window=WINDOW, border="exclude")
        loss.backward()
        optimizer.step()
    return logistic_alpha(image, log_scale, centre).detach()


def test_known_only_collapses_the_soft_edge_and_ddc_keeps_it():
    image, trimap = soft_edge()
    ramp_columns, colour_step = 16, 1 / 15
    known_only = train_logistic_alpha(image, trimap, ddc_weight=0.0)
    with_ddc = train_logistic_alpha(image, trimap, ddc_weight=LAMBDA)
    # Known-only: nothing constrains the unknown region, the fit sharpens into a step.
    assert transition_width(known_only) <= ramp_columns // 4
    assert largest_step(known_only) > 3 * colour_step
    # Known + DDC: alpha steps stay near the colour steps, the transition spans the ramp.
    assert transition_width(with_ddc) >= ramp_columns * 5 // 8
    assert largest_step(with_ddc) < 1.5 * colour_step
    assert known_loss(with_ddc, trimap).item() < 0.1
