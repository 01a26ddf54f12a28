import { join } from 'node:path';
import { createCommitVerifier, type CommitVerifier } from '../../src/gitops/signed-history.js';
import { generateSigningKey, type SigningKey } from '../../src/gitops/ssh-signature.js';
import { createWorkspace, type Workspace, type WorkspaceOptions } from '../../src/gitops/workspace.js';
import { TEST_GIT_ENV, type TempGitops } from './git-repos.js';

export interface TestSigning {
  key: SigningKey;
  verifier: CommitVerifier;
  /** `name <email> namespaces="git" <key>`: an allowed_signers line for `git verify-commit`. */
  allowedSigners: string;
}

/** A signing key of Hoist's own for a test, with a verifier that trusts it (and `trusted`, for rotation). */
export function testSigning(trusted: SigningKey[] = []): TestSigning {
  const { key } = generateSigningKey();
  return {
    key,
    verifier: createCommitVerifier({ trustedKeys: async () => [key.publicKey, ...trusted.map((k) => k.publicKey)] }),
    allowedSigners: `hoist@example.invalid namespaces="git" ${key.publicKey.text}\n`,
  };
}

/** A workspace on a temp GitOps repo that signs with the test's key. */
export function testWorkspace(gitops: TempGitops, signing: TestSigning, over: Partial<WorkspaceOptions> = {}): Workspace {
  return createWorkspace({
    access: { url: gitops.url },
    toolsDir: join(gitops.root, 'tools'),
    baseEnv: TEST_GIT_ENV,
    dir: join(gitops.root, 'workspace'),
    branch: 'main',
    author: { name: 'Hoist', email: 'hoist@example.invalid' },
    signingKey: async () => signing.key,
    verifier: signing.verifier,
    ...over,
  });
}
