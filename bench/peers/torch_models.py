#!/usr/bin/env python3
"""PyTorch modules of bench/models.py, shared by its ONNX export and by the PyTorch peer
(torch_h5py.py --arch), so that both run the same architecture and weights.

  resnet50  ResNet-50's layer structure (torchvision's, without torchvision): 7x7/2 stem conv +
            BatchNorm + ReLU + 3x3/2 max pool, bottleneck blocks 3-4-6-3 (1x1, 3x3 (stride on
            the 3x3), 1x1 convs, widths 64..2048, projection shortcut with BatchNorm on each
            stage's first block), global average pool, Linear 2048 -> 1000. Random weights
            (seeded); BatchNorm in eval mode with random running statistics, so the exporter's
            folding of BatchNorm into the convs has something to fold.
  minilm    all-MiniLM-L6-v2 as tools/export_minilm.py builds it: transformers' BertModel from
            the package's safetensors + masked mean pooling + L2 normalisation.

    .venv-torch/bin/python bench/peers/torch_models.py export-resnet50 --out R.onnx --weights R.pt
"""
import argparse
import os
import sys

import torch
import torch.nn as nn

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, cin, width, stride):
        super().__init__()
        cout = width * self.expansion
        self.conv1 = nn.Conv2d(cin, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, cout, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        idt = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + idt)


class ResNet50(nn.Module):
    def __init__(self, classes=1000, blocks=(3, 4, 6, 3)):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        layers, cin = [], 64
        for i, (n, width) in enumerate(zip(blocks, (64, 128, 256, 512))):
            stage = []
            for j in range(n):
                stage.append(Bottleneck(cin, width, 2 if (j == 0 and i > 0) else 1))
                cin = width * Bottleneck.expansion
            layers.append(nn.Sequential(*stage))
        self.layer1, self.layer2, self.layer3, self.layer4 = layers
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(cin, classes)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def resnet50(seed=7):
    """The benchmark's ResNet-50 with seeded random weights, in eval mode."""
    torch.manual_seed(seed)
    net = ResNet50()
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.0)
                m.bias.uniform_(-0.1, 0.1)
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 2.0)
        # Keep activations of order one through 16 residual additions.
        for m in net.modules():
            if isinstance(m, Bottleneck):
                m.bn3.weight.mul_(0.2)
    return net.eval()


def export_resnet50(out, weights):
    net = resnet50()
    torch.save(net.state_dict(), weights)
    x = torch.randn(2, 3, 224, 224)
    torch.onnx.export(net, (x,), out, dynamo=False, opset_version=17, input_names=["x"], output_names=["logits"],
                      dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}}, do_constant_folding=True)


def load_resnet50(weights):
    net = resnet50()
    net.load_state_dict(torch.load(weights, map_location="cpu"))
    return net.eval()


def load_minilm(source=None, attn="sdpa"):
    """tools/export_minilm.py's SentenceEmbedder with the package's weights (or --source's).
    attn: transformers' attention implementation (sdpa: its default, what a user gets)."""
    import tempfile
    sys.path.insert(0, os.path.join(ROOT, "tools"))
    import export_minilm as em
    with tempfile.TemporaryDirectory() as tmp:
        paths = em.extract(source or em.package_zip(), tmp)
        model, config = em.load(paths)
    model.bert.config._attn_implementation = attn
    return model.eval()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=["export-resnet50"])
    ap.add_argument("--out", required=True)
    ap.add_argument("--weights", required=True)
    a = ap.parse_args()
    tmp = a.out + ".tmp"
    export_resnet50(tmp, a.weights)
    os.replace(tmp, a.out)
    print(f"torch_models: {a.out} + {a.weights}")


if __name__ == "__main__":
    main()
