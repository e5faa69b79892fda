"""PyTorch's own optimisers, every hyperparameter taken from the resolved settings.

torch's defaults for Adam's and Adadelta's eps (1e-8, 1e-6) differ from Keras's 1e-7, so eps is
always passed explicitly. weight_decay is torch's coupled L2 (added to the gradient), the
convention the other backends match.
"""
import torch


def make_optimizer(parameters, optimizer: dict, lr_as_tensor: bool = False):
    """torch.optim optimiser from resolved settings (every hyperparameter explicit).

    `lr_as_tensor`: the learning rate as a 0-d tensor, for a torch.compile'd step. PyTorch's
    recipe for compiling the optimizer does so because a float learning rate is a constant of
    the compiled graph, which each change (reduce_on_plateau) would compile again; set it with
    set_learning_rate."""
    name, lr = optimizer["name"], optimizer["learning_rate"]
    if lr_as_tensor:
        lr = torch.tensor(float(lr))
    if name == "sgd":
        return torch.optim.SGD(parameters, lr=lr, momentum=optimizer["momentum"],
                               weight_decay=optimizer["weight_decay"],
                               nesterov=bool(optimizer["nesterov"]))
    if name == "adam":
        return torch.optim.Adam(parameters, lr=lr, betas=(optimizer["beta_1"], optimizer["beta_2"]),
                                eps=optimizer["epsilon"], weight_decay=optimizer["weight_decay"])
    if name == "adadelta":
        return torch.optim.Adadelta(parameters, lr=lr, rho=optimizer["rho"],
                                    eps=optimizer["epsilon"],
                                    weight_decay=optimizer["weight_decay"])
    raise ValueError(f"optimizer.name {name!r} is not sgd, adam or adadelta")


def set_learning_rate(optimizer, lr: float) -> None:
    """Every parameter group's learning rate; a tensor one in place, so a compiled step keeps
    reading the same tensor."""
    for group in optimizer.param_groups:
        if isinstance(group["lr"], torch.Tensor):
            group["lr"].fill_(float(lr))
        else:
            group["lr"] = float(lr)
