# Dmitri Ivanov -- assignment 3, training loop
import torch


def _to_device(loader, device):
    for inputs, labels in loader:
        yield inputs.to(device), labels.to(device)


def train_one_epoch(model, loader, optimizer, loss_fn, device="cpu"):
    model.train()
    batch_losses, n_correct, n_seen = [], 0, 0
    for inputs, labels in _to_device(loader, device):
        optimizer.zero_grad()
        out = model(inputs)
        loss = loss_fn(out, labels)
        loss.backward()
        optimizer.step()
        batch_losses.append(loss.item() * len(inputs))
        n_correct += (out.argmax(-1) == labels).sum().item()
        n_seen += len(inputs)
    return dict(loss=sum(batch_losses) / n_seen, accuracy=n_correct / n_seen)


def evaluate(model, loader, loss_fn, device="cpu"):
    prev_mode = model.training
    model.eval()
    loss_acc, all_y, all_p = 0.0, [], []
    try:
        with torch.no_grad():
            for inputs, labels in _to_device(loader, device):
                out = model(inputs)
                loss_acc += float(loss_fn(out, labels)) * len(labels)
                all_y.append(labels.detach().cpu())
                all_p.append(out.argmax(-1).detach().cpu())
    finally:
        model.train(prev_mode)
    y_true, y_pred = torch.cat(all_y).long(), torch.cat(all_p).long()
    accuracy = float((y_true == y_pred).float().mean())
    return dict(loss=loss_acc / len(y_true), accuracy=accuracy, y_true=y_true, y_pred=y_pred)


def fit(model, train_loader, val_loader, optimizer, loss_fn, epochs, patience=5, device="cpu"):
    log = dict(train_loss=[], val_accuracy=[], best_epoch=0)
    top_acc, saved, stale = None, None, 0
    epoch = 0
    while epoch < epochs and stale < patience:
        log["train_loss"].append(train_one_epoch(model, train_loader, optimizer, loss_fn, device)["loss"])
        val_acc = evaluate(model, val_loader, loss_fn, device)["accuracy"]
        log["val_accuracy"].append(val_acc)
        if top_acc is None or val_acc > top_acc:
            top_acc, stale = val_acc, 0
            log["best_epoch"] = epoch
            saved = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            stale += 1
        epoch += 1
    if saved is not None:
        model.load_state_dict(saved)
    return log
