import json, os, random, shutil, torch
import companion.torch.nas.benchmark as B
from companion.torch.nas.space import parse_genotype
if __name__ == "__main__":
    B.main(["--out", "/tmp/out_table.json", "--workers", "12", "--device", "cuda"])
    shutil.copy("/tmp/out_table.json", os.environ["OUT"] + "/table.json")
    t = json.load(open("/tmp/out_table.json"))
    rows = random.Random(0).sample(t["rows"], 8)
    torch.set_num_threads(2)
    cpu, gpu = B.digits_tensors("cpu"), B.digits_tensors("cuda")
    for r in rows:
        c = B.train_architecture(parse_genotype(r["genotype"]), B.Recipe(), cpu, "cpu")
        d = B.train_architecture(parse_genotype(r["genotype"]), B.Recipe(), gpu, "cuda")
        print(r["genotype"], r["val_accuracy"], c["val_accuracy"], d["val_accuracy"], r["test_accuracy"], c["test_accuracy"], flush=True)
