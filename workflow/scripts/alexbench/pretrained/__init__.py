"""The published BVLC AlexNet weights: read the .caffemodel (protobuf wire format, no Caffe, no
pickle), check it against the expected layer table, convert it once into a framework-neutral
.npz, write synthetic ones for the demo, evaluate a framework's model on them. numpy only."""
