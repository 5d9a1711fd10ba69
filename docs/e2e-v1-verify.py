# Independent check of the test vectors in docs/e2e-v1.md with Python's cryptography package:
# python3 docs/e2e-v1-verify.py (from the repository root). Shows the format is implementable as written.
import json,re,base64,struct
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
doc=open('docs/e2e-v1.md').read()
v=json.loads(re.search(r'```json\n(.*?)```',doc[doc.index('vectors:begin'):],re.S).group(1))
def hk(ikm,salt,info,l): return HKDF(hashes.SHA256(),l,salt,info).derive(ikm)
S=base64.urlsafe_b64decode(v['fragment'].split('.',1)[1]+'=')
root=hk(S,b'nexus-e2e/1',b'root',32); kid=hk(root,b'',b'key-id',4)
assert root.hex()==v['kRoot'] and kid.hex()==v['keyId']
for m in v['vectors']:
    b32=m['envelope'][5:].upper(); b32+='='*(-len(b32)%8); raw=base64.b32decode(b32)
    H=raw[:30]; commit=raw[30:62]; ct=raw[62:]
    assert H[0]==1 and H[2:6]==kid
    okm=hk(root,H[14:30],b'nexus-e2e/1 msg',64); assert okm[32:]==commit
    sid=v['sessionId'].encode(); ag=m['sender'].encode()
    aad=b'nexus-e2e/1\0'+struct.pack('>H',len(sid))+sid+struct.pack('>H',len(ag))+ag+H
    P=AESGCM(okm[:32]).decrypt(b'\0'*12,ct,aad)
    body=P.rstrip(b'\0'); assert body[-1]==0x80 and len(P)%256==0
    assert json.loads(body[:-1])==m['payload'], m['name']
    print('ok',m['name'],struct.unpack('>Q',H[6:14])[0])
