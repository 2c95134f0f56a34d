# Ben Okafor - part 4: training utilities
import torch


def _batches(loader, device):
    for xb, yb in loader:
        yield xb.to(device), yb.to(device)


def train_one_epoch(model, loader, optimizer, loss_fn, device="cpu"):
    model.train()
    losses, right, total = [], 0, 0
    for xb, yb in _batches(loader, device):
        optimizer.zero_grad()
        logits = model(xb)
        loss = loss_fn(logits, yb)
        loss.backward()
        optimizer.step()
        losses.append(loss.item() * len(xb))
        right += (logits.argmax(-1) == yb).sum().item()
        total += len(xb)
    return dict(loss=sum(losses) / total, accuracy=right / total)


def evaluate(model, loader, loss_fn, device="cpu"):
    mode = model.training
    model.eval()
    total_loss, ys, ps = 0.0, [], []
    try:
        with torch.no_grad():
            for xb, yb in _batches(loader, device):
                logits = model(xb)
                total_loss += float(loss_fn(logits, yb)) * len(yb)
                ys.append(yb.detach().cpu())
                ps.append(logits.argmax(-1).detach().cpu())
    finally:
        model.train(mode)
    y_true, y_pred = torch.cat(ys).long(), torch.cat(ps).long()
    accuracy = float((y_true == y_pred).float().mean())
    return dict(loss=total_loss / len(y_true), accuracy=accuracy, y_true=y_true, y_pred=y_pred)


def fit(model, train_loader, val_loader, optimizer, loss_fn, epochs, patience=5, device="cpu"):
    hist = dict(train_loss=[], val_accuracy=[], best_epoch=0)
    best, snapshot, waited = None, None, 0
    epoch = 0
    while epoch < epochs and waited < patience:
        hist["train_loss"].append(train_one_epoch(model, train_loader, optimizer, loss_fn, device)["loss"])
        acc = evaluate(model, val_loader, loss_fn, device)["accuracy"]
        hist["val_accuracy"].append(acc)
        if best is None or acc > best:
            best, waited = acc, 0
            hist["best_epoch"] = epoch
            snapshot = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            waited += 1
        epoch += 1
    if snapshot is not None:
        model.load_state_dict(snapshot)
    return hist
